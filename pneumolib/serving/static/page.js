"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const NOT_DIAGNOSTIC = "not a diagnostic tool";
  const BROWSER_IMAGE = /^image\/(png|jpeg|gif|webp|bmp)$/;
  const BROWSER_NAME = /\.(png|jpe?g|gif|webp|bmp)$/i;
  let file = null;           // the chosen upload
  let baseUrl = null;        // object URL of the upload, shown under the heatmap
  let request = 0;           // answers to superseded requests are dropped
  let apiKey = "";           // the service's key, when it asks for one: in memory only, never stored
  let afterKey = null;       // what to do again once a key is given
  let mapMeasures = null;    // the test report's heatmap figures, from GET /model

  const pct = (x) => (x > 0 && x < 0.001 ? "<0.1%" : x < 1 && x > 0.999 ? ">99.9%"
                      : (100 * x).toFixed(1).replace(/\.0$/, "") + "%");
  const oneColumn = window.matchMedia("(max-width: 52rem)");
  const motion = window.matchMedia("(prefers-reduced-motion: reduce)");
  const opName = () => document.querySelector('input[name="operating_point"]:checked').value;

  // ---- model description (GET /model) --------------------------------------------------
  async function loadModel() {
    const box = $("model-info");
    try {
      const response = await fetch("model", { headers: headers() });
      const card = await response.json().catch(() => ({}));
      if (response.status === 401) {
        askForKey(card, loadModel);
        box.textContent = "The model description needs the service's key.";
        return;
      }
      if (!response.ok) {
        box.classList.add("bad");
        box.textContent = card.detail || `The model description is unavailable (HTTP ${response.status}).`;
        return;
      }
      box.replaceChildren("Model ", bold(card.name), ` · ${card.architecture} · pneumolib ${card.version} · `,
                          code((card.sha256 || "").slice(0, 12)));
      box.title = `SHA-256 of the weights: ${card.sha256}\n${card.checkpoint_source || ""}`;
      mapMeasures = card.heatmap_measures || null;
      for (const [name, point] of Object.entries(card.operating_points || {})) {
        const note = $(`op-${name}`);
        if (!note || typeof point.threshold !== "number") continue;
        let text = `Pneumonia when the probability is at least ${pct(point.threshold)}`;
        if (typeof point.val_sensitivity === "number" && typeof point.val_specificity === "number") {
          text += ` (validation: sensitivity ${pct(point.val_sensitivity)}, specificity ${pct(point.val_specificity)})`;
        }
        note.textContent = text + ".";
      }
      const preferred = document.querySelector(`input[name="operating_point"][value="${card.default_operating_point}"]`);
      if (preferred && !file) preferred.checked = true;
    } catch (error) {
      box.classList.add("bad");
      box.textContent = "The service could not be reached to describe its model.";
    }
  }

  function bold(text) { const b = document.createElement("b"); b.textContent = text ?? "?"; return b; }
  function code(text) { const c = document.createElement("code"); c.textContent = text; return c; }

  // ---- the service's key (only when it asks: HTTP 401) -------------------------------------
  function headers() {
    const sent = { Accept: "application/json" };
    if (apiKey) sent["X-API-Key"] = apiKey;  // not Authorization: a tunnel's own login may use that
    return sent;
  }

  function askForKey(body, retry) {
    afterKey = retry;
    $("key-note").textContent = body && body.code === "wrong_key" ? "That key was not accepted; check it and try again." : "";
    $("key-form").hidden = false;
    $("api-key").focus();
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    apiKey = $("api-key").value.trim();
    $("api-key").value = "";
    $("key-form").hidden = true;
    const retry = afterKey;
    afterKey = null;
    loadModel();
    if (retry && retry !== loadModel && file) retry();
  });

  // ---- choosing a file -----------------------------------------------------------------
  function choose(chosen) {
    if (!chosen) return;
    file = chosen;
    const kb = file.size / 1024;
    $("chosen").textContent = `${file.name} (${kb >= 1024 ? (kb / 1024).toFixed(1) + " MB" : Math.max(1, Math.round(kb)) + " kB"})`;
    if (baseUrl) URL.revokeObjectURL(baseUrl);
    baseUrl = BROWSER_IMAGE.test(file.type) || BROWSER_NAME.test(file.name) ? URL.createObjectURL(file) : null;
    predict();
  }

  $("file").addEventListener("change", (event) => choose(event.target.files[0]));
  const drop = $("drop");
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.add("over"); });
  }
  for (const name of ["dragleave", "dragend"]) drop.addEventListener(name, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) choose(files[0]);
  });
  // A file dropped beside the target must not make the browser leave the page to open it.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());

  for (const input of document.querySelectorAll('input[name="operating_point"], #heatmap, #allow-non-xray')) {
    input.addEventListener("change", () => { if (file) predict(); });
  }
  $("retry-anyway").addEventListener("click", () => { $("allow-non-xray").checked = true; predict(); });

  // ---- asking the service (POST /predict) ------------------------------------------------
  async function predict() {
    const id = ++request;
    const params = new URLSearchParams({ operating_point: opName(), heatmap: String($("heatmap").checked) });
    if ($("allow-non-xray").checked) params.set("allow_non_xray", "true");
    const form = new FormData();
    form.append("file", file, file.name);
    busy(`Analysing ${file.name}…`);
    let response, body = null;
    try {
      response = await fetch(`predict?${params}`, { method: "POST", body: form, headers: headers() });
      body = await response.json().catch(() => null);
    } catch (error) {
      if (id === request) fail("The service could not be reached. Check that it is still running, then choose the file again.");
      return;
    }
    if (id !== request) return;
    if (response.status === 401) {
      askForKey(body, predict);
      fail((body && body.detail) || "This service needs a key.", body && body.code);
      return;
    }
    if (!response.ok || !body || typeof body.prediction !== "string") {
      const detail = body && typeof body.detail === "string" && body.detail
        ? body.detail : `The service answered with an error (HTTP ${response.status}) and gave no explanation.`;
      fail(detail, body && body.code);
      return;
    }
    show(body);
  }

  function busy(text) {
    const spinner = document.createElement("span");
    spinner.className = "spinner";
    spinner.setAttribute("aria-hidden", "true");
    $("status").replaceChildren(spinner, text);
    $("error").hidden = true;
    $("result").classList.add("stale");
  }

  function fail(detail, code) {
    $("status").replaceChildren();
    $("result").classList.remove("stale");
    $("error-text").textContent = detail;
    $("retry-anyway").hidden = !(code === "not_a_chest_xray" && !$("allow-non-xray").checked);
    $("error").hidden = false;
    $("result").hidden = true;
    $("placeholder").hidden = true;
    reveal();
  }

  // ---- showing the answer ----------------------------------------------------------------
  function show(answer) {
    $("status").replaceChildren();
    $("error").hidden = true;
    $("placeholder").hidden = true;
    const positive = answer.prediction === "Pneumonia";
    const verdict = $("verdict");
    verdict.className = "verdict " + (positive ? "pos" : "neg");
    $("meter").className = "meter " + (positive ? "pos" : "neg");
    $("prediction").textContent = answer.prediction;
    $("verdict-sub").textContent = `Probability of pneumonia ${pct(answer.probability)} is ` +
      `${positive ? "at or above" : "below"} the ${answer.operating_point} threshold of ${pct(answer.threshold)}.`;
    const position = (x) => `${(100 * Math.min(1, Math.max(0, x))).toFixed(2)}%`;
    $("meter-fill").style.width = position(answer.probability);
    $("meter-tick").style.left = position(answer.threshold);
    $("meter-label").textContent = `threshold ${pct(answer.threshold)}`;
    $("probability").textContent = pct(answer.probability);
    $("threshold").textContent = pct(answer.threshold);
    $("threshold").title = `calibrated probability ${answer.threshold}`;
    $("operating-point").textContent = answer.operating_point;
    $("confidence").textContent = pct(answer.confidence);

    const notes = (answer.warnings || []).filter((text) => !text.toLowerCase().startsWith(NOT_DIAGNOSTIC));
    $("warnings").replaceChildren(...notes.map((text) => {
      const item = document.createElement("li");
      item.textContent = text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
      return item;
    }));
    $("warnings").hidden = notes.length === 0;

    const input = answer.input || {};
    $("input-info").textContent = `${String(input.format || "?").toUpperCase()}, ${input.width} × ${input.height} pixels, ${input.bit_depth}-bit`;
    const gate = answer.gate || {};
    $("gate-info").textContent = gate.passed
      ? `passed (distance ${num(gate.distance)}, limit ${num(gate.threshold)})`
      : `not passed (distance ${num(gate.distance)}, limit ${num(gate.threshold)}); prediction forced`;
    const model = answer.model || {};
    $("answer-model").textContent = `${model.name} (${model.architecture}), pneumolib ${model.version}, sha256 ${model.sha256}`;
    $("api-disclaimer").textContent = answer.disclaimer || "";
    $("result").classList.remove("stale");
    $("result").hidden = false;
    showImages(answer);
    reveal();
  }

  function reveal() {  // on a phone the answer is below the form: bring it into view
    if (!oneColumn.matches) return;
    $("result-title").scrollIntoView({ behavior: motion.matches ? "auto" : "smooth", block: "start" });
  }

  const num = (x) => (typeof x === "number" ? x.toFixed(1) : "n/a");

  function showImages(answer) {
    const base = $("base"), overlay = $("overlay");
    const hasHeatmap = typeof answer.heatmap === "string" && answer.heatmap.length > 0;
    base.hidden = !baseUrl;
    if (baseUrl && base.src !== baseUrl) base.src = baseUrl;
    base.alt = hasHeatmap ? "" : `The uploaded X-ray, ${file.name}`;
    overlay.hidden = !hasHeatmap;
    if (hasHeatmap) {
      overlay.src = `data:image/png;base64,${answer.heatmap}`;
      overlay.alt = `Grad-CAM heatmap over the X-ray: red and yellow mark the regions that most drove the call "${answer.prediction}".`;
    } else {
      overlay.removeAttribute("src");
    }
    $("figure").hidden = !hasHeatmap && !baseUrl;
    $("slider-row").hidden = !hasHeatmap;
    $("legend").hidden = !hasHeatmap;
    const slider = $("opacity");
    slider.disabled = hasHeatmap && !baseUrl;
    let note = "";
    if (!hasHeatmap && $("heatmap").checked) note = "No heatmap could be made for this image (see the notes).";
    else if (hasHeatmap && !baseUrl) note = "This browser cannot show the file on its own (DICOM), so the heatmap stays at full opacity.";
    $("figure-note").textContent = note;
    showZones(hasHeatmap ? answer.regions : null);
    applyOpacity();
    overlay.onload = () => {  // if the browser shows the upload differently (size, rotation), do not misalign
      if (!base.hidden && base.naturalWidth && overlay.naturalWidth) {
        const ratio = (image) => image.naturalWidth / image.naturalHeight;
        if (Math.abs(ratio(base) / ratio(overlay) - 1) > 0.02) {
          base.hidden = true;
          slider.disabled = true;
          applyOpacity();
          $("figure-note").textContent = "The browser shows this file differently from the service, so the heatmap stays at full opacity.";
        }
      }
    };
    base.onerror = () => { base.hidden = true; slider.disabled = true; applyOpacity(); };
  }

  const SVG = "http://www.w3.org/2000/svg";
  function showZones(regions) {  // outlines over the film, and each zone's effect on the call
    const svg = $("zones-svg"), list = $("zones-list");
    svg.replaceChildren(); list.replaceChildren();
    const zones = regions && Array.isArray(regions.zones) ? regions.zones : [];
    svg.classList.toggle("off", !zones.length);  // an SVG element has no `hidden` property
    $("zones").hidden = zones.length === 0;
    if (!zones.length) return;
    const largest = Math.max(0.01, ...zones.map((z) => Math.abs(z.contribution)));
    zones.forEach((zone, rank) => {
      if (zone.outline && zone.outline.length >= 3) {
        const polygon = document.createElementNS(SVG, "polygon");
        polygon.setAttribute("points", zone.outline.map(([x, y]) => `${x},${y}`).join(" "));
        if (rank === 0 && zone.contribution >= 0.01) polygon.classList.add("top");
        svg.append(polygon);
        const cx = zone.outline.reduce((a, p) => a + p[0], 0) / zone.outline.length;
        const cy = zone.outline.reduce((a, p) => a + p[1], 0) / zone.outline.length;
        const label = document.createElementNS(SVG, "text");
        label.setAttribute("x", cx); label.setAttribute("y", cy);
        label.textContent = `${zone.contribution >= 0 ? "+" : ""}${zone.contribution.toFixed(2)}`;
        svg.append(label);
      }
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = `${zone.zone}${zone.source === "prior" ? " *" : ""}`;
      const bar = document.createElement("span");
      bar.className = zone.contribution < 0 ? "zbar neg" : "zbar";
      bar.style.width = `${(100 * Math.abs(zone.contribution)) / largest}%`;
      const value = document.createElement("span");
      value.className = "num";
      value.textContent = `${zone.contribution >= 0 ? "+" : ""}${zone.contribution.toFixed(3)}`;
      item.append(name, bar, value);
      list.append(item);
    });
    $("zones-summary").textContent = regions.summary || "";
    const prior = zones.some((z) => z.source === "prior");
    $("zones-note").textContent = "Each number is how much the probability of pneumonia drops when that zone is hidden "
      + "(the patient's right lung is on the image's left). The zones are approximate"
      + (prior ? "; * marks a lung that could not be outlined on this film, drawn where lungs usually lie" : "")
      + ". This shows what the model relied on, not where disease is: not a diagnosis.";
    $("map-note").textContent = mapAgreement();
  }

  function mapAgreement() {  // how far the map's side can be trusted, from the model's test report
    const m = mapMeasures;
    if (!m || typeof m.laterality_agreement !== "number" || typeof m.films_called_pneumonia !== "number") return "";
    return `On the official test split the lung the heatmap made hotter was the lung whose hiding lowered the probability `
      + `of pneumonia more in ${pct(m.laterality_agreement)} of ${m.films_called_pneumonia} films called pneumonia`
      + (typeof m.uniform_laterality_agreement === "number"
        ? ` (a map spread evenly over the lungs, which names the larger lung: ${pct(m.uniform_laterality_agreement)})` : "")
      + ": where the colours and these numbers disagree, the numbers are the model's own answer.";
  }

  function applyOpacity() {
    const slider = $("opacity");
    const value = slider.disabled ? 100 : Number(slider.value);
    $("overlay").style.opacity = String(value / 100);
    $("opacity-value").textContent = `${value}%`;
  }
  $("opacity").addEventListener("input", applyOpacity);

  loadModel();
})();
