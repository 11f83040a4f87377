// The upload page: POST a job (multipart), follow its server-sent events, show the result.
// Plain browser JavaScript: no build step, no CDN. URLs are relative to the page.
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("upload-form");
const fileInput = $("files");
const dropZone = $("drop-zone");
let chosenFiles = [];
let lastResult = null;

// What each error code means, for people (ImageResult.error.code).
const PLAIN_WORDS = {
  empty: "the file is empty",
  not_an_image: "this file is not an image",
  not_a_file: "this is not a regular file (a pipe, socket or device)",
  corrupt_image: "the image is damaged and could not be read",
  unsupported_type: "this image type is not supported (use PNG, JPEG or WebP)",
  too_large: "the file is too large",
  too_many_pixels: "the image has too many pixels",
  timeout: "reading it took too long and was stopped",
  rate_limited: "the Gemini quota was used up; try again later",
  upstream_error: "the AI service failed on it",
  blocked: "the AI service refused to read it",
  bad_model_output: "the AI's answer could not be understood",
  worker_crashed: "the worker reading it crashed, even when retried",
  auth_error: "the API key was refused",
  internal_error: "an unexpected error in this service",
};

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
  const text = $("progress-text");
  text.textContent =
    `${percent}% · processed ${p.processedImages} / ${p.totalImages} · failed ${p.failedImages}` +
    ` · remaining ${p.remainingImages} · ETA ${eta}`;
  if (p.waitingForQuota && p.nextSlotAt) {
    const seconds = Math.max(0, Math.round((Date.parse(p.nextSlotAt) - Date.now()) / 1000));
    const quota = document.createElement("span");
    quota.className = "quota";
    quota.textContent = ` · waiting for quota: next slot in ${seconds} s`;
    text.appendChild(quota);
  }
}

function thumbnailOf(source) {
  const file = chosenFiles.find((f) => f.name === source || source.endsWith("/" + f.name));
  if (!file) return null;
  const img = document.createElement("img");
  img.alt = source;
  img.src = URL.createObjectURL(file);
  return img;
}

const SHOW_FIELDS = ["venueName", "day", "date", "startTime", "endTime", "time", "djName", "vendor", "description"];

// A cell a spreadsheet would run as a formula (OWASP CSV injection): one starting with = + - @,
// a tab or a carriage return, also after leading spaces or as the full-width forms some apps accept.
const FORMULA_START = /^(?:[\t\r]|[ \u3000]*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20])/;

// One CSV cell: formula starts are prefixed with ' so the spreadsheet shows text, then quoted.
function csvCell(value) {
  if (value == null) return "";
  let text = String(value);
  if (FORMULA_START.test(text)) text = "'" + text;
  return /[",;\r\n\t']/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvOf(shows) {
  const lines = [SHOW_FIELDS.concat("sources").join(",")];
  for (const show of shows) {
    lines.push(SHOW_FIELDS.map((f) => csvCell(show[f])).concat(csvCell(show.sources.join(" "))).join(","));
  }
  return lines.join("\n") + "\n";
}

function download(name, type, text) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
}

$("download-csv").addEventListener("click", () =>
  lastResult && download("shows.csv", "text/csv", csvOf(lastResult.data.shows)));
$("download-json").addEventListener("click", () =>
  lastResult && download("shows.json", "application/json", JSON.stringify(lastResult.data, null, 2)));

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
  lastResult = result;
  const stats = result.stats;
  $("summary").textContent =
    `${stats.successfulImages} of ${stats.totalImages} images read in ${(stats.totalProcessingTime / 1000).toFixed(1)} s` +
    ` with ${stats.maxConcurrentWorkers} workers · ${Math.round(stats.averageProcessingTime)} ms per image` +
    ` · measured speedup ${stats.speedup.toFixed(2)}x` +
    (stats.promptTokens ? ` · ${stats.promptTokens + stats.outputTokens} tokens, about $${stats.estimatedCost.toFixed(4)}` : "");
  $("shows-title").textContent = `${result.data.shows.length} shows` + (job.requiresApproval ? " (awaiting approval)" : "");
  for (const show of result.data.shows) {
    const row = body.insertRow();
    [show.venueName, show.date || show.day, show.startTime, show.endTime, show.time, show.djName, show.sources.length]
      .forEach((value) => cell(row, value));
  }
  const venues = $("venues").tBodies[0];
  venues.replaceChildren();
  for (const venue of result.data.venues) {
    const row = venues.insertRow();
    [venue.name, venue.address, venue.city, venue.state, venue.phone].forEach((value) => cell(row, value));
  }
  const list = $("images");
  list.replaceChildren();
  for (const image of result.results) {
    const item = document.createElement("li");
    item.className = image.success ? "ok" : "failed";
    const thumb = thumbnailOf(image.source);
    item.appendChild(thumb || document.createElement("span"));
    const text = document.createElement("div");
    const title = document.createElement("strong");
    title.textContent = image.source;
    text.appendChild(title);
    const line = document.createElement("div");
    line.className = "outcome";
    line.textContent = image.success
      ? `${image.status === "cached" ? "from the cache" : "ok"}: ${image.data.shows.length} shows, ${Math.round(image.processingTime)} ms`
      : `${PLAIN_WORDS[image.error.code] || image.error.code} (${image.error.code})`;
    text.appendChild(line);
    const shows = document.createElement("ul");
    for (const show of image.data.shows) {
      const entry = document.createElement("li");
      entry.textContent = [show.venueName, show.date || show.day, show.time || show.startTime, show.djName]
        .filter(Boolean).join(" · ");
      shows.appendChild(entry);
    }
    text.appendChild(shows);
    item.appendChild(text);
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
