"""Labelled sources beyond the Kermany release: where their files live, how they join the split, a re-shared demo source."""
