import pytest

from pneumolib.data.release.naming import UnrecognisedFileName, parse_file_name


@pytest.mark.parametrize(
    "name, patient, subtype",
    [
        ("person1_bacteria_1.jpeg", "person1_bacteria", "bacteria"),
        ("person1000_virus_1681.jpeg", "person1000_virus", "virus"),
        ("person1_virus_6_1.jpeg", "person1_virus", "virus"),  # the one name with an extra counter
        ("PERSON12_Bacteria_3.JPG", "person12_bacteria", "bacteria"),
        ("IM-0115-0001.jpeg", "IM-0115", ""),
        ("IM-0640-0001-0002.jpeg", "IM-0640", ""),
        ("NORMAL2-IM-0381-0001.jpeg", "NORMAL2-IM-0381", ""),
        ("NORMAL2-IM-0587-0001-0002.jpeg", "NORMAL2-IM-0587", ""),
        ("NORMAL-IM-0001-0001.jpeg", "NORMAL-IM-0001", ""),
    ],
)
def test_every_naming_form(name, patient, subtype):
    parsed = parse_file_name(name)
    assert parsed.patient_id == patient
    assert parsed.subtype == subtype


def test_person_number_is_kept_apart_from_the_patient():
    bacterial, viral = parse_file_name("person7_bacteria_3.jpeg"), parse_file_name("person7_virus_8.jpeg")
    assert bacterial.person_number == viral.person_number == "person7"
    assert bacterial.patient_id != viral.patient_id  # two children (see the module docstring)
    assert parse_file_name("IM-0115-0001.jpeg").person_number == ""


@pytest.mark.parametrize("name", ["scan.png", "person_bacteria_1.jpeg", "IM-0115.jpeg", "person1_fungus_2.jpeg",
                                  "._IM-0115-0001.jpeg"])
def test_unrecognised_names_raise(name):
    with pytest.raises(UnrecognisedFileName, match="naming"):
        parse_file_name(name)


@pytest.mark.full_data
def test_full_dataset_names_all_parse():
    from conftest import full_data_root

    root = full_data_root()
    if root is None:
        pytest.skip("full dataset not present")
    names = [p.name for p in root.glob("*/*/*.jpeg")]
    assert len(names) == 5856
    patients = {parse_file_name(n).patient_id for n in names}
    assert 3000 < len(patients) < 5856  # several films per child, far fewer children than films
