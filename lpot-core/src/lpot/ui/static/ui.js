// lpot ui: small vanilla script. The server renders every table; this only swaps in the fragments
// it pushes over server-sent events, draws the Plotly figures it sends, and posts the actions.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

function showMessage(text, kind = "error") {
  const box = $("#message");
  box.textContent = text;
  box.className = "message " + kind;
  box.hidden = !text;
}

async function api(method, url, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body instanceof Blob) {
    init.body = body;
    init.headers["Content-Type"] = "application/octet-stream";
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(url, init);
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
  return data;
}

function draw(element, figure, empty) {
  if (!element) return;
  if (!figure) {
    if (window.Plotly) Plotly.purge(element);
    element.innerHTML = `<p class="muted">${empty}</p>`;
    return;
  }
  if (!element.classList.contains("js-plotly-plot")) element.innerHTML = "";
  Plotly.react(element, figure.data, figure.layout, { displaylogo: false, responsive: true });
}

function jsonOf(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

function follow(url, onData) {
  const source = new EventSource(url);
  source.onmessage = (event) => onData(JSON.parse(event.data));
  window.addEventListener("beforeunload", () => source.close());
  return source;
}

function swap(payload) {
  for (const [id, html] of Object.entries(payload.html || {})) {
    const node = document.getElementById(id);
    if (node) node.innerHTML = html;
  }
}

const runQuery = (id) => "id=" + encodeURIComponent(id);

// actions on buttons that fragments re-render: delegated, so they keep working after a swap
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-action]");
  if (!button) return;
  button.disabled = true;
  try {
    await api("POST", `/api/${button.dataset.action}?${runQuery(button.dataset.id)}`);
    showMessage("");
  } catch (error) {
    showMessage(error.message);
    button.disabled = false;
  }
});

const pages = {};

pages.runs = () => {
  const picked = new Set();
  const compare = $("#compare");
  const refresh = () => {
    $$(".pick").forEach((box) => { box.checked = picked.has(box.value); });
    compare.disabled = picked.size < 2;
  };
  document.addEventListener("change", (event) => {
    if (!event.target.classList.contains("pick")) return;
    if (event.target.checked) picked.add(event.target.value); else picked.delete(event.target.value);
    refresh();
  });
  compare.addEventListener("click", () => {
    location.href = "/compare?" + Array.from(picked).map(runQuery).join("&");
  });
  follow(`/events/runs?since=${document.body.dataset.since}`, (payload) => { swap(payload); refresh(); });
};

pages.run = () => {
  const run = document.body.dataset.run;
  const chart = $("#chart");
  draw(chart, jsonOf("chart-data"), "No trial measured yet.");
  follow(`/events/run?${runQuery(run)}&since=${document.body.dataset.since}`, (payload) => {
    swap(payload);
    draw(chart, payload.chart, "No trial measured yet.");
    document.body.dataset.status = payload.status;
  });
  $("#benchmark-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const settings = Object.fromEntries(new FormData(event.target).entries());
    try {
      await api("POST", `/api/benchmark?${runQuery(run)}`, settings);
      showMessage("");
    } catch (error) {
      showMessage(error.message);
    }
  });
};

pages.trial = () => {
  const figures = jsonOf("figures-data") || {};
  for (const [id, figure] of Object.entries(figures)) {
    draw(document.getElementById(id), figure, "Nothing measured.");
  }
  const count = () => {
    const n = $$(".op-pick:checked").length;
    $("#seed-count").textContent = `${n} op${n === 1 ? "" : "s"} ticked`;
  };
  document.addEventListener("change", count);
  count();
  $("#seed").addEventListener("click", async () => {
    const ops = $$(".op-pick:checked").map((box) => box.value);
    const { run, trial } = document.body.dataset;
    try {
      const answer = await api("POST", `/api/seed?${runQuery(run)}&trial=${trial}`, { ops });
      location.href = answer.redirect || `/run?${runQuery(answer.id)}`;
    } catch (error) {
      showMessage(error.message);
    }
  });
};

pages.compare = () => {
  draw($("#compare-chart"), jsonOf("chart-data"), "No run has both an accuracy and a latency yet: benchmark them.");
};

pages.new = () => {
  const yaml = $("#yaml");
  const limit = Number(document.body.dataset.maxUpload);
  const state = $("#yaml-state");
  const problem = $("#yaml-error");
  const fine = $("#yaml-ok");
  const options = () => Object.fromEntries($$("#options [name]").map((field) => [field.name, field.value]));
  const report = (error, summary) => {
    problem.hidden = !error;
    problem.textContent = error || "";
    fine.hidden = !summary;
    fine.textContent = summary ? `valid: ${summary}` : "";
  };
  let latest = 0; // answers to older requests (fields typed fast) are dropped
  const fromFields = async () => {
    if ($$("#options [name]").some((field) => field.value === "")) return; // being typed
    const mine = ++latest;
    try {
      const text = (await api("POST", "/api/config/preview", options())).yaml;
      if (mine !== latest) return;
      yaml.value = text;
      delete yaml.dataset.edited;
      state.textContent = "from the fields";
      report("", "");
    } catch (error) {
      if (mine === latest) report(error.message, "");
    }
  };
  const check = async () => {
    const mine = ++latest;
    try {
      const { summary } = await api("POST", "/api/config/check", { yaml: yaml.value });
      if (mine === latest) report("", summary);
      return true;
    } catch (error) {
      if (mine === latest) report(error.message, "");
      return false;
    }
  };
  let timer = null;
  yaml.addEventListener("input", () => {
    yaml.dataset.edited = "1";
    state.textContent = "edited by hand: the fields no longer apply";
    clearTimeout(timer);
    timer = setTimeout(check, 400);
  });
  $("#options").addEventListener("change", () => { if (!yaml.dataset.edited) fromFields(); });
  $("#from-fields").addEventListener("click", fromFields);
  $("#new-run").addEventListener("submit", async (event) => {
    event.preventDefault();
    const model = $("#model-file").files[0];
    const data = $("#data-file").files[0];
    for (const [what, file] of [["model", model], ["data", data]]) {
      if (file && file.size > limit) {
        showMessage(`${what} file ${file.name} is ${(file.size / 1048576).toFixed(1)} MiB; the upload limit is ${(limit / 1048576).toFixed(1)} MiB`);
        return;
      }
    }
    if (!model) { showMessage("choose the model file to tune"); return; }
    if (!(await check())) return;
    const button = $("#start");
    button.disabled = true;
    try {
      const root = $("#root") ? Number($("#root").value) : 0;
      const body = { name: $("#name").value || undefined, root, yaml: yaml.value, parent: document.body.dataset.parent };
      const { id } = await api("POST", "/api/runs", body);
      const put = (role, file) => api("PUT", `/api/upload?${runQuery(id)}&role=${role}&filename=${encodeURIComponent(file.name)}`, file);
      await put("model", model);
      if (data) await put("data", data);
      await api("POST", `/api/start?${runQuery(id)}`);
      location.href = `/run?${runQuery(id)}`;
    } catch (error) {
      showMessage(error.message);
      button.disabled = false;
    }
  });
  if (yaml.dataset.edited) check();
};

document.addEventListener("DOMContentLoaded", () => {
  const init = pages[document.body.dataset.page];
  if (init) init();
});
