// The curator's workbench (agileml/workbench.py serves it at /curate): one decision at a time, judged by keyboard.
// Verdicts go to the service's JSON API with the page's CSRF token; the next decision shows at once while the last
// verdict is on its way, and comes back with the service's reason if the service refuses it.
"use strict";
const config = JSON.parse(document.getElementById("config").textContent);
const $ = (id) => document.getElementById(id);
const state = {queue: [], details: new Map(), current: null, sent: new Set(), done: [], left: 0, inflight: 0,
               refilling: null, tally: {curated: 0, accepted_as_is: 0}, choice: null};
window.curateTimings = [];     // ms from a verdict's key press to the next decision on screen (benchmarks/curate_page.py)

async function api(method, path, body) {
  const answer = await fetch(path, {method, credentials: "same-origin", body: body && JSON.stringify(body),
                                    headers: {"Content-Type": "application/json", "X-CSRF-Token": config.csrf}});
  if (answer.status === 401) { location.reload(); throw new Error("your session ended: sign in again"); }
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(data.detail || `${answer.status} ${answer.statusText}`);
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

// ---- the queue -------------------------------------------------------------------------------------------------
function refill() {
  if (!state.refilling) state.refilling = (async () => {
    try {
      const q = await api("GET", `/v1/decisions?pending=true&limit=50&order=${encodeURIComponent(config.order)}`);
      state.left = q.pending;
      const have = new Set(state.queue.map((d) => d.decision_id));
      if (state.current) have.add(state.current.decision_id);
      for (const d of q.decisions) if (!have.has(d.decision_id) && !state.sent.has(d.decision_id)) state.queue.push(d);
    } catch (e) { showError(e.message); }
    finally { state.refilling = null; }
  })();
  return state.refilling;
}

function detail(id) {     // the decision with its explanation, fetched once
  if (!state.details.has(id)) state.details.set(id, api("GET", `/v1/decisions/${id}`).catch((e) => ({error: e.message})));
  return state.details.get(id);
}

function next() {
  state.current = state.queue.shift() || null;
  show();
  for (const d of state.queue.slice(0, 3)) detail(d.decision_id);
  if (state.queue.length < 10) refill().then(() => { if (!state.current && state.queue.length) next(); else counts(); });
}

// ---- what a decision offers ------------------------------------------------------------------------------------
const labelsOf = (d) => Object.keys(d.scores || {}).sort((a, b) => d.scores[b] - d.scores[a] || a.localeCompare(b));
const percent = (p) => `${Math.round(p * 100)}%`;

function freshChoice(d) {
  return d.task === "tags" ? {rejected: new Set(), added: [], newTags: [], focus: d.suggested[0] || null} : {};
}

function evidenceOf(info, d) {     // word -> "towards"/"against", for the label (or the focused tag)
  const e = info && info.explanation;
  if (!e) return new Map();
  const pushes = d.task === "tags" ? (e.tags || []).find((t) => t.tag === state.choice.focus) : e;
  const marks = new Map();
  for (const side of ["against", "towards"]) for (const f of (pushes && pushes[side]) || [])
    for (const w of f.feature.replace(/^[^\s:]+:/, "").toLowerCase().split(/\s+/)) marks.set(w, [side, f.weight]);
  return marks;
}

function textWithEvidence(text, marks) {
  const p = el("p", {class: "text", lang: ""});
  for (const piece of text.split(/([\p{L}\p{N}_']+)/u)) {
    const mark = marks.get(piece.toLowerCase());
    p.append(mark ? el("mark", {class: mark[0], title: `${mark[1] > 0 ? "+" : ""}${mark[1].toFixed(3)}`}, piece) : piece);
  }
  return p;
}

// ---- drawing ---------------------------------------------------------------------------------------------------
function show() {
  const d = state.current, card = $("card");
  state.choice = d ? freshChoice(d) : null;
  if (!d) {
    card.replaceChildren(el("p", {class: "quiet"}, "Nothing waits for a verdict. New decisions appear here as the service makes them."));
    keys(null); counts(); return;
  }
  const when = d.at.slice(0, 16).replace("T", " ");
  const model = d.model.version ? `model version ${d.model.version}` : d.model.run_id ? `run ${d.model.run_id.slice(0, 8)}` : "a model folder";
  card.replaceChildren(
    el("p", {class: "meta"}, `${model} · ${when} UTC · decision ${d.decision_id.slice(-8)}`,
       d.arm === "control" ? el("span", {class: "control", title: "drawn at random, so curators' verdicts on these measure the model without the queue's bias"}, "random sample") : null,
       isCheck(d) ? el("span", {class: "control", title: "a training text whose label the data may have wrong (agileml review labels)"}, "is this label right?") : null),
    textWithEvidence(d.text, new Map()), el("p", {class: "evidence-note quiet"}, "marking the words that decided…"),
    isCheck(d) ? checkNote(d) : null,
    d.task === "tags" ? tagChoices(d) : labelChoices(d));
  keys(d); counts();
  detail(d.decision_id).then((info) => { if (state.current === d) evidence(d, info); });
}

const isCheck = (d) => d.kind === "label_check";

function checkNote(d) {     // a label check: what the training data says, and the model's guess as a guess
  const guess = d.task === "tags" ? Object.keys(d.scores).filter((t) => d.scores[t] >= 0.5) : [labelsOf(d)[0]];
  const said = d.suggested.length ? d.suggested.map((l) => `“${l}”`).join(", ") : "no tag";
  return el("p", {class: "check"}, `The training data says ${said}. A model that never saw this text suggests `,
            el("strong", {}, guess.length ? guess.join(", ") : "no tag"), d.task === "tags" ? ": a suggestion only. Keep the tags that are right, reject the others, add any missing."
            : ": a suggestion only. Keep the label if it is right, or give the right one.");
}

function evidence(d, info) {
  const note = document.querySelector("#card .evidence-note");
  document.querySelector("#card .text").replaceWith(textWithEvidence(d.text, evidenceOf(info, d)));
  if (!note) return;
  note.textContent = info.error ? `no explanation: ${info.error}` : info.explanation_missing ? `no explanation: ${info.explanation_missing}`
    : d.task === "tags" && !state.choice.focus ? "no tag suggested: add one with t, or send none with a"
    : d.task === "tags" ? `green: words towards “${state.choice.focus}”, red: against` : `green: words towards “${(info.explanation && info.explanation.label) || d.suggested[0]}”, red: against`;
}

function labelChoices(d) {
  const list = el("ol", {class: "choices"});
  labelsOf(d).forEach((label, i) => list.append(el("li", {class: label === d.suggested[0] ? "suggested" : ""},
    el("kbd", {}, String(i + 1)), " ", el("span", {class: "name"}, label), " ", bar(d, label),
    label === d.suggested[0] ? el("span", {class: "tag-state"}, isCheck(d) ? "given" : "suggested") : null)));
  return el("div", {}, list, typed(d, "label", "Another label"));
}

function tagChoices(d) {
  const c = state.choice, list = el("ol", {class: "choices"});
  d.suggested.forEach((tag, i) => list.append(el("li", {class: (c.rejected.has(tag) ? "rejected" : "kept") + (tag === c.focus ? " focus" : "")},
    el("kbd", {}, String(i + 1)), " ", el("span", {class: "name"}, tag), " ", bar(d, tag),
    el("span", {class: "tag-state"}, c.rejected.has(tag) ? "rejected" : "kept"))));
  if (!d.suggested.length) list.append(el("li", {class: "quiet"}, "no tag suggested"));
  const added = el("p", {class: "added"}, c.added.length ? `added: ${c.added.map((t) => c.newTags.includes(t) ? `${t} (new)` : t).join(", ")}` : "");
  return el("div", {}, list, added, typed(d, "tag", "Add a tag"));
}

function bar(d, label) {     // a probability as a bar and a percentage; a linear SVM's margin as a signed score
  const v = d.scores[label] || 0;
  if (d.score_type !== "probability")
    return el("span", {class: "probability", title: "a margin, not a probability: above 0 is for this label"}, `score ${v > 0 ? "+" : ""}${v.toFixed(2)}`);
  return el("span", {class: "probability"}, el("span", {class: "bar", style: `width:${Math.round(v * 100)}%`}), ` ${percent(v)}`);
}

function typed(d, kind, title) {     // a label or tag typed in, completed from the deciding model's own labels
  const list = el("datalist", {id: "known"});
  for (const label of labelsOf(d)) list.append(el("option", {value: label}));
  const input = el("input", {id: "typed", list: "known", autocomplete: "off", "aria-label": title, placeholder: title});
  const fresh = el("input", {id: "fresh", type: "checkbox"});
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { input.blur(); return; }
    if (e.key !== "Enter") return;
    e.preventDefault();
    const word = input.value.trim();
    if (kind === "label") { if (word) send(e, fresh.checked ? {label: word, new: [word]} : {label: word}); return; }
    if (!word) { send(e, tagVerdict(d)); return; }
    if (!state.choice.added.includes(word)) state.choice.added.push(word);
    if (fresh.checked) state.choice.newTags.push(word);
    redraw(d); $("typed").focus();
  });
  return el("p", {class: "typed"}, el("kbd", {}, kind === "label" ? "c" : "t"), " ", input, list, " ",
            el("label", {}, fresh, ` new ${kind} (not one the model knows)`));
}

function redraw(d) {
  const card = $("card");
  card.lastChild.replaceWith(d.task === "tags" ? tagChoices(d) : labelChoices(d));
  detail(d.decision_id).then((info) => { if (state.current === d) evidence(d, info); });
}

function keys(d) {
  const rows = !d ? [["u", "undo the last verdict"]] : d.task === "tags"
    ? [["1–9", "keep or reject that tag"], ["t", "add a tag"], ["r", "reject every suggested tag"], ["a / Enter", "send: kept tags accepted"],
       ["s", "skip"], ["u", "undo the last verdict"]]
    : [["a / Enter", isCheck(d) ? "the given label is right" : "accept the suggestion"], ["1–9", "that label is the right one"], ["c", "type another label"], ["s", "skip"],
       ["u", "undo the last verdict"]];
  $("keys").replaceChildren(el("h2", {}, "Keys"), el("dl", {}, ...rows.flatMap(([k, what]) => [el("dt", {}, el("kbd", {}, k)), el("dd", {}, what)])));
}

function counts() {
  const left = Math.max(0, state.left - state.inflight);
  $("left").textContent = `${left} waiting for a verdict`;
  $("tally").textContent = `· today: ${state.tally.curated} curated, ${state.tally.accepted_as_is} accepted as suggested`;
}

function showError(message) {
  const box = $("error");
  box.textContent = message; box.hidden = !message;
}

// ---- verdicts --------------------------------------------------------------------------------------------------
function tagVerdict(d) {
  const c = state.choice;
  const verdict = {accepted: d.suggested.filter((t) => !c.rejected.has(t)), rejected: d.suggested.filter((t) => c.rejected.has(t)), added: c.added};
  if (c.newTags.length) verdict.new = c.newTags;
  return verdict;
}

const asSuggested = (d, v) => d.task === "tags" ? !v.rejected.length && !v.added.length : v.label === d.suggested[0];

function send(e, verdict) {
  if (e) e.preventDefault();
  const d = state.current, started = e ? e.timeStamp : performance.now();
  showError("");
  state.sent.add(d.decision_id); state.inflight++;
  const entry = {decision: d};
  entry.posted = api("POST", "/v1/feedback", {decision_id: d.decision_id, curator: config.curator, ...verdict})
    .then(() => { state.left--; state.tally.curated++; if (asSuggested(d, verdict)) state.tally.accepted_as_is++; })
    .catch((err) => { refused(entry, err); throw err; })
    .finally(() => { state.inflight--; counts(); });
  state.done.push(entry);
  next();
  requestAnimationFrame(() => setTimeout(() => window.curateTimings.push(performance.now() - started)));
}

function refused(entry, err) {     // the service said no: the decision comes back, with its reason
  state.done = state.done.filter((x) => x !== entry);
  state.sent.delete(entry.decision.decision_id);
  if (state.current) state.queue.unshift(state.current);
  state.current = entry.decision;
  show();
  showError(`Not recorded: ${err.message}`);
}

async function undo() {
  const last = state.done.pop();
  if (!last) { showError("Nothing to undo: no verdict was given on this page yet."); return; }
  try { await last.posted; } catch { return; }
  try {
    await api("POST", `/v1/decisions/${last.decision.decision_id}/undo`, {curator: config.curator});
    state.sent.delete(last.decision.decision_id);
    if (state.current) state.queue.unshift(state.current);
    state.current = last.decision; state.left++;
    show(); showError("");
    loadTally();
  } catch (err) { showError(`Not undone: ${err.message}`); }
}

function skip() {
  const d = state.current;
  next();
  if (d) state.queue.push(d);     // it comes back at the end
}

async function loadTally() {
  try { state.tally = await api("GET", `/v1/tally?curator=${encodeURIComponent(config.curator)}`); counts(); }
  catch (err) { showError(err.message); }
}

document.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT" || e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
  const d = state.current, digit = /^[1-9]$/.test(e.key) ? Number(e.key) - 1 : -1;
  if (e.key === "u") { e.preventDefault(); undo(); return; }
  if (!d) return;
  if (e.key === "s") { e.preventDefault(); skip(); return; }
  if (d.task === "tags") {
    if (e.key === "a" || e.key === "Enter") { send(e, tagVerdict(d)); return; }
    if (digit >= 0 && digit < d.suggested.length) {
      const tag = d.suggested[digit], c = state.choice;
      c.rejected.has(tag) ? c.rejected.delete(tag) : c.rejected.add(tag);
      c.focus = tag; redraw(d);
    } else if (e.key === "r") { for (const t of d.suggested) state.choice.rejected.add(t); redraw(d); }
    else if (e.key === "t") { e.preventDefault(); $("typed").focus(); }
    return;
  }
  const labels = labelsOf(d);
  if (e.key === "a" || e.key === "Enter") send(e, {label: d.suggested[0]});
  else if (digit >= 0 && digit < labels.length) send(e, {label: labels[digit]});
  else if (e.key === "c") { e.preventDefault(); $("typed").focus(); }
});

$("sign-out").addEventListener("click", async () => {
  try { await api("POST", "/curate/sign-out"); } finally { location.reload(); }
});

setInterval(() => { if (!state.current) refill().then(() => { if (!state.current && state.queue.length) next(); }); }, 10000);
loadTally();
refill().then(next);
