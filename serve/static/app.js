// The upload page: POST a job (multipart), follow its server-sent events, show the result.
// Plain browser JavaScript: no build step, no CDN. URLs are relative to the page.
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("upload-form");
const fileInput = $("files");
const dropZone = $("drop-zone");
let chosenFiles = [];

function setFiles(files) {
  chosenFiles = Array.from(files);
  $("chosen").textContent = chosenFiles.length
    ? chosenFiles.map((f) => f.name).join(", ")
    : "no files chosen";
}

fileInput.addEventListener("change", () => setFiles(fileInput.files));
["dragenter", "dragover"].forEach((name) =>
  dropZone.addEventListener(name, (event) => { event.preventDefault(); dropZone.classList.add("over"); }));
["dragleave", "drop"].forEach((name) =>
  dropZone.addEventListener(name, () => dropZone.classList.remove("over")));
dropZone.addEventListener("drop", (event) => { event.preventDefault(); setFiles(event.dataTransfer.files); });
document.querySelectorAll("input[name=mode]").forEach((radio) =>
  radio.addEventListener("change", () => { $("token-field").hidden = !isAdmin(); }));

function isAdmin() {
  return document.querySelector("input[name=mode]:checked").value === "admin";
}

function showMessage(text) {
  $("message").textContent = text;
}

function showProgress(p) {
  const percent = p.totalImages ? Math.round((100 * p.processedImages) / p.totalImages) : 0;
  $("progress-bar").value = percent;
  const eta = p.remainingImages && p.processedImages ? `${(p.estimatedTimeRemaining / 1000).toFixed(1)} s` : "–";
  $("progress-text").textContent =
    `${percent}% · processed ${p.processedImages} / ${p.totalImages} · failed ${p.failedImages}` +
    ` · remaining ${p.remainingImages} · ETA ${eta}`;
}

function cell(row, text) {
  const td = row.insertCell();
  td.textContent = text == null ? "" : String(text);
}

function showResult(job) {
  $("results").hidden = false;
  const body = $("shows").tBodies[0];
  body.replaceChildren();
  const result = job.result;
  if (!result) {
    showMessage(`job ${job.status}${job.error ? ": " + job.error : ""}`);
    return;
  }
  $("shows-title").textContent = `${result.data.shows.length} shows` + (job.requiresApproval ? " (awaiting approval)" : "");
  for (const show of result.data.shows) {
    const row = body.insertRow();
    [show.venueName, show.date || show.day, show.startTime, show.endTime, show.time, show.djName, show.sources.length]
      .forEach((value) => cell(row, value));
  }
  const list = $("images");
  list.replaceChildren();
  for (const image of result.results) {
    const item = document.createElement("li");
    item.className = image.success ? "ok" : "failed";
    item.textContent = image.success
      ? `${image.source}: ok (${image.data.shows.length} shows, ${Math.round(image.processingTime)} ms)`
      : `${image.source}: ${image.error.code} — ${image.error.message}`;
    list.appendChild(item);
  }
}

function follow(urls) {
  const events = new EventSource(urls.events);
  events.addEventListener("progress", (event) => showProgress(JSON.parse(event.data).progress));
  events.addEventListener("done", (event) => {
    const job = JSON.parse(event.data).job;
    showProgress(job.progress);
    showResult(job);
    events.close();
    $("submit").disabled = false;
  });
  events.addEventListener("error", (event) => {
    if (event.data) showMessage(JSON.parse(event.data).message);
    if (events.readyState === EventSource.CLOSED) $("submit").disabled = false;
  });
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showMessage("");
  if (!chosenFiles.length) {
    showMessage("choose at least one screenshot");
    return;
  }
  const data = new FormData();
  chosenFiles.forEach((file) => data.append("files", file, file.name));
  data.append("maxConcurrentWorkers", $("workers").value);
  const headers = {};
  if (isAdmin()) {
    data.append("isAdminUpload", "true");
    headers.Authorization = `Bearer ${$("token").value}`;
  }
  $("status-section").hidden = false;
  $("results").hidden = true;
  showProgress({ totalImages: chosenFiles.length, processedImages: 0, failedImages: 0, remainingImages: chosenFiles.length });
  $("submit").disabled = true;
  try {
    const response = await fetch("api/parser/jobs", { method: "POST", body: data, headers });
    const body = await response.json();
    if (response.status !== 202) {
      showMessage(`${response.status}: ${body.message || JSON.stringify(body)}`);
      $("submit").disabled = false;
      return;
    }
    follow(body.urls);
  } catch (error) {
    showMessage(`request failed: ${error}`);
    $("submit").disabled = false;
  }
});
