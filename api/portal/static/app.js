// ledgerclear portal: one vanilla ES module, no build step. Talks only to this origin's /v1 API.
// Views (hash routes): #/signin, #/p/<participant> (dashboard), #/p/<participant>/what-if, #/operator.

const API = "/v1";
const STORE_KEY = "lc.session";
const PAGE_SIZE = 10;
const STATUSES = ["unauthorised", "unmatched", "matched", "pending", "submitted", "held", "settled", "partial",
  "failed", "cancelled"];
// The additive building blocks of a requirement (charted); the rest are subtotals (listed in the table).
const BLOCKS = ["portfolio_margin", "flat_rate_margin", "liquidation_risk_addon", "structured_product_addon",
  "corporate_action_margin", "holiday_addon", "mtm_requirement", "position_limit_addon", "credit_risk_addon",
  "adhoc_addon"];
const REASONS = { LACK: "short of securities", MONY: "short of cash" };

// Hooks for the tests and the benchmark: when a row first showed a status, what-if round trips.
const probe = (window.__lc = { shown: {}, painted: {}, whatifMs: [], ready: false });

const S = { session: null, notice: null, stream: null, charts: [], timers: [], view: null };

// ---- small helpers -------------------------------------------------------------------------------------

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of kids.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}
const $ = (sel, root = document) => root.querySelector(sel);
const money = (cents) => (cents / 100).toLocaleString("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const num = (x) => Number(x).toLocaleString("en", { maximumFractionDigits: 0 });
const signed = (x) => (x > 0 ? "+" : "") + num(x);
const label = (k) => k.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase()).replace(/\bmtm\b/i, "MTM");
const say = (text) => { $("#live").textContent = text; };

class ApiError extends Error {
  constructor(status, message, code, field) { super(message); Object.assign(this, { status, code, field }); }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (S.session) headers.Authorization = `Bearer ${S.session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "The service cannot be reached. Check your connection and try again.", "network");
  }
  if (r.status === 204) return null;
  let data = null;
  try { data = await r.json(); } catch { /* not JSON */ }
  if (!r.ok) {
    const e = data && data.error ? data.error : {};
    const err = new ApiError(r.status, e.message || r.statusText || "request failed", e.code, e.field);
    if (Array.isArray(e.rows)) err.rows = e.rows;  // a rejected file: one entry per bad row
    if (r.status === 401 && S.session && path !== "/sessions") expire();
    if (r.status === 429) err.message = `Too many requests; wait ${r.headers.get("Retry-After") || "a few"} s and retry.`;
    throw err;
  }
  return data;
}

async function allPages(path, max = 2000) {
  const items = [];
  let offset = 0;
  const sep = path.includes("?") ? "&" : "?";
  while (offset !== null && items.length < max) {
    const page = await api("GET", `${path}${sep}limit=500&offset=${offset}`);
    items.push(...page.items);
    offset = page.next_offset;
  }
  return items;
}

function messageBox(kind, text) { return h("div", { class: `msg ${kind}`, role: kind === "error" ? "alert" : "status" }, text); }

function explain(err, what) {
  if (err.status === 404 || err.status === 403) {
    const own = S.session.participant_id;
    return `${what}: not found, or not yours to see (${err.status}: ${err.message}).` +
      (own ? ` You are signed in for ${own}.` : "");
  }
  if (err.code === "not_configured") return `${what} is not available: ${err.message}.`;
  if (err.status === 0) return err.message;
  return `${what} could not be loaded (${err.status}: ${err.message}).`;
}

function chart(canvas, config) {
  if (window.Chart) window.Chart.defaults.color = "#4a5465";
  if (!window.Chart) { canvas.replaceWith(h("p", { class: "muted", text: "Chart unavailable; see the table." })); return null; }
  const c = new window.Chart(canvas, config);
  S.charts.push(c);
  return c;
}

// ---- session -------------------------------------------------------------------------------------------

function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
    if (s && new Date(s.expires_at) > new Date()) return s;
    if (s) S.notice = "Your session expired. Sign in again to continue.";
  } catch { /* ignore */ }
  sessionStorage.removeItem(STORE_KEY);
  return null;
}

function setSession(s) {
  S.session = s;
  if (s) S.notice = null;
  if (s) sessionStorage.setItem(STORE_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(STORE_KEY);
}

function expire() {
  setSession(null);
  S.notice = "Your session expired or was signed out. Sign in again to continue.";
  goSignIn();
}

function goSignIn() {  // one render: hashchange routes, unless the hash is already the sign-in page
  if (location.hash === "#/signin") route();
  else location.hash = "#/signin";
}

async function signOut() {
  try { await api("DELETE", "/sessions/current"); } catch { /* already gone */ }
  setSession(null);
  S.notice = "You are signed out.";
  goSignIn();
}

const isOperator = () => S.session && S.session.participant_id === null;
const hasGroup = (...g) => S.session && S.session.groups.some((x) => g.includes(x));
const home = () => (isOperator() ? "#/operator" : `#/p/${S.session.participant_id}`);

// ---- shell and routing ---------------------------------------------------------------------------------

function teardown() {
  if (S.stream) S.stream.abort();
  S.stream = null;
  for (const c of S.charts) c.destroy();
  S.charts = [];
  for (const t of S.timers) clearTimeout(t);
  S.timers = [];
  probe.ready = false;
}

function shell(current) {
  const nav = $("#nav");
  nav.replaceChildren();
  const signedIn = !!S.session;
  nav.hidden = !signedIn;
  $("#signout").hidden = !signedIn;
  $("#who").textContent = signedIn
    ? `${S.session.username} · ${S.session.participant_id || "market operator"}` : "";
  if (!signedIn) return;
  const links = isOperator()
    ? [["#/operator", "Operator"]]
    : [[`#/p/${S.session.participant_id}`, "Dashboard"], [`#/p/${S.session.participant_id}/what-if`, "What-if margin"]];
  for (const [href, text] of links) {
    nav.append(h("a", { href, "aria-current": href === current ? "page" : null, text }));
  }
}

function page(title, ...content) {
  const main = $("#main");
  document.title = `${title} · ledgerclear`;
  main.replaceChildren(h("h1", { text: title }), ...content);
}

function route() {
  teardown();
  $("#banner").hidden = true;
  S.session = S.session || loadSession();
  const hash = location.hash || "";
  if (!S.session) { shell(""); return viewSignIn(); }
  if (S.session.expires_at) {
    const ms = new Date(S.session.expires_at) - new Date();
    S.timers.push(setTimeout(expire, Math.max(0, Math.min(ms, 2 ** 31 - 1))));
  }
  let m;
  if ((m = hash.match(/^#\/p\/([A-Za-z0-9]{1,12})\/what-if$/))) { shell(hash); return viewWhatIf(m[1]); }
  if ((m = hash.match(/^#\/p\/([A-Za-z0-9]{1,12})$/))) { shell(hash); return viewDashboard(m[1]); }
  if (hash === "#/operator") { shell(hash); return viewOperator(); }
  if (hash === "" || hash === "#/" || hash === "#/signin") { location.replace(home()); return; }
  shell("");
  page("Page not found", messageBox("error", `There is no page at ${hash}.`), h("a", { href: home(), text: "Go to your start page" }));
}

// ---- live events (SSE over fetch, so the session token goes in a header) -------------------------------

async function latestEventId() {
  let after = 0;
  for (;;) {
    const batch = await api("GET", `/events?after=${after}&limit=500`);
    if (!batch.length) return after;
    after = batch[batch.length - 1].id;
    if (batch.length < 500) return after;
  }
}

function follow(after, onEvent, onState) {
  const ctl = new AbortController();
  S.stream = ctl;
  (async () => {
    while (!ctl.signal.aborted) {
      try {
        const r = await fetch(`${API}/events/stream?after=${after}&timeout=600`, {
          headers: { Authorization: `Bearer ${S.session.token}`, Accept: "text/event-stream" }, signal: ctl.signal });
        if (r.status === 401) { expire(); return; }
        if (!r.ok) throw new Error(`stream ${r.status}`);
        onState("live");
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const ev = { id: 0, type: "message", data: null };
            for (const line of block.split("\n")) {
              if (line.startsWith("id: ")) ev.id = Number(line.slice(4));
              else if (line.startsWith("event: ")) ev.type = line.slice(7);
              else if (line.startsWith("data: ")) ev.data = JSON.parse(line.slice(6));
            }
            if (ev.data) { after = Math.max(after, ev.id); onEvent(ev); }
          }
        }
      } catch (e) {
        if (ctl.signal.aborted) return;
      }
      onState("reconnecting");
      await new Promise((res) => setTimeout(res, 1000));
    }
  })();
  return ctl;
}

function connBadge() { return h("span", { class: "conn muted", id: "conn", text: "connecting…" }); }
function setConn(state) {
  const el = $("#conn");
  if (el) el.textContent = state === "live" ? "● live" : "reconnecting…";
}

// ---- sign-in -------------------------------------------------------------------------------------------

function viewSignIn() {
  // The notice stays until the next sign-in: a late 401 (the live stream, a slow request) may render this
  // page again, and the second rendering must still say why the session ended.
  const notice = S.notice;
  const out = h("div", { id: "signin-msg" });
  if (notice) out.append(messageBox("info", notice));
  const user = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const totp = h("input", { id: "totp", name: "totp", inputmode: "numeric", autocomplete: "one-time-code",
    maxlength: 6, required: true, "aria-describedby": "totp-help" });
  const btn = h("button", { type: "submit", id: "signin-btn", text: "Sign in" });
  const form = h("form", { class: "card signin", novalidate: true, "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title", text: "Sign in to ledgerclear" }),
    out,
    h("label", { for: "username", text: "Username" }), user,
    h("label", { for: "password", text: "Password" }), pass,
    h("label", { for: "totp", text: "Second factor (6-digit code)" }), totp,
    h("p", { id: "totp-help", class: "muted", text: "From your authenticator app; a code changes every 30 s and works once." }),
    btn);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    const code = totp.value.trim();
    if (!user.value.trim() || !pass.value) {
      out.append(messageBox("error", "Enter your username and password.")); (user.value ? pass : user).focus(); return;
    }
    if (!/^[0-9]{6}$/.test(code)) {
      out.append(messageBox("error", "The second-factor code is the 6 digits shown in your authenticator app."));
      totp.focus(); return;
    }
    btn.disabled = true;
    btn.textContent = "Signing in…";
    try {
      const s = await api("POST", "/sessions", { username: user.value.trim(), password: pass.value, totp: code });
      setSession({ token: s.token, expires_at: s.expires_at, username: s.username,
        participant_id: s.participant_id, groups: s.groups });
      location.hash = home();
    } catch (e) {
      const text = e.status === 401
        ? "Sign-in refused: the username, password or second-factor code is wrong (or the code was already used). " +
          "Wait for the next code and try again; after 5 failures the account is locked for 15 minutes."
        : e.status === 422 ? `Check what you entered: ${e.message}` : e.message;
      out.append(messageBox("error", text));
      totp.value = "";
      totp.focus();
    } finally {
      btn.disabled = false;
      btn.textContent = "Sign in";
    }
  });
  $("#main").replaceChildren(form);
  document.title = "Sign in · ledgerclear";
  user.focus();
}

// ---- participant dashboard -----------------------------------------------------------------------------

function ackKey() { return `lc.ack.${S.session.username}`; }
function acked() { try { return new Set(JSON.parse(localStorage.getItem(ackKey()) || "[]")); } catch { return new Set(); } }
function ack(key) { const s = acked(); s.add(key); localStorage.setItem(ackKey(), JSON.stringify([...s])); }

async function viewDashboard(pid) {
  page(`Dashboard — ${pid}`, h("p", { text: "Loading…" }));
  let balances;
  try {
    balances = await api("GET", `/accounts/${encodeURIComponent(pid)}/balances`);
  } catch (e) {
    if (e.status === 401) return;
    page(`Dashboard — ${pid}`, messageBox("error", explain(e, `Participant ${pid}`)),
      h("a", { href: home(), text: "Go to your own dashboard" }));
    return;
  }
  const st = { items: [], filter: "", search: "", sort: { key: "id", dir: -1 }, page: 0, flash: new Set(), margin: null };
  const cashBody = h("tbody");
  const secBody = h("tbody");
  const alertList = h("ul", { class: "alerts", id: "alerts" });
  const alertCount = h("span", { id: "alert-count" });
  const marginBox = h("div", { id: "margin" });
  const runsBody = h("tbody", { id: "myruns-body" });
  const tbody = h("tbody", { id: "si-body" });
  const pagerInfo = h("span", { id: "si-page", "aria-live": "polite" });
  const prev = h("button", { type: "button", class: "secondary", text: "Previous", onclick: () => { st.page--; renderTable(); } });
  const next = h("button", { type: "button", class: "secondary", text: "Next", onclick: () => { st.page++; renderTable(); } });
  const statusSel = h("select", { id: "si-status", onchange: (e) => { st.filter = e.target.value; st.page = 0; renderTable(); } },
    h("option", { value: "", text: "All statuses" }), STATUSES.map((s) => h("option", { value: s, text: s })));
  const search = h("input", { id: "si-search", type: "search", placeholder: "reference or security",
    oninput: (e) => { st.search = e.target.value.trim().toLowerCase(); st.page = 0; renderTable(); } });
  const cols = [["sender_reference", "Reference"], ["direction", "Direction", false, true], ["counterparty_id", "Counterparty"],
    ["security_code", "Security"], ["quantity", "Quantity", true], ["amount_cents", "Amount", true],
    ["settlement_date", "Settles", false, true], ["status", "Status"], ["reason", "Reason"]];
  const headRow = h("tr");

  function renderBalances(b) {
    cashBody.replaceChildren(...b.cash.map((c) => h("tr", {}, h("th", { scope: "row", text: c.currency }),
      h("td", { class: "num", text: money(c.cents) }))));
    const secs = b.securities.items;
    secBody.replaceChildren(...(secs.length ? secs.map((s) => h("tr", {}, h("th", { scope: "row", text: s.security_code }),
      h("td", { class: "num", text: num(s.quantity) })))
      : [h("tr", {}, h("td", { colspan: 2, class: "muted", text: "No holdings" }))]));
  }

  function visible() {
    let rows = st.items;
    if (st.filter) rows = rows.filter((r) => r.status === st.filter);
    if (st.search) rows = rows.filter((r) => r.sender_reference.toLowerCase().includes(st.search) ||
      r.security_code.toLowerCase().includes(st.search));
    const { key, dir } = st.sort;
    return [...rows].sort((a, b) => {
      const x = a[key] ?? "", y = b[key] ?? "";
      return (x < y ? -1 : x > y ? 1 : 0) * dir || (a.id - b.id) * dir;
    });
  }

  function renderHead() {
    headRow.replaceChildren(...cols.map(([key, text, isNum, narrowHidden]) => {
      const sorted = st.sort.key === key;
      return h("th", { scope: "col", class: [isNum ? "num" : "", narrowHidden ? "hide-narrow" : ""].join(" ").trim() || null,
        "aria-sort": sorted ? (st.sort.dir > 0 ? "ascending" : "descending") : "none" },
      h("button", { type: "button", onclick: () => {
        st.sort = { key, dir: sorted ? -st.sort.dir : 1 }; renderHead(); renderTable();
      } }, text, sorted ? (st.sort.dir > 0 ? " ▲" : " ▼") : ""));
    }));
  }

  function renderTable() {
    const rows = visible();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    st.page = Math.min(Math.max(0, st.page), pages - 1);
    const shown = rows.slice(st.page * PAGE_SIZE, (st.page + 1) * PAGE_SIZE);
    tbody.replaceChildren(...(shown.length ? shown.map((r) => h("tr", {
      class: st.flash.has(r.id) ? "flash" : null, dataset: { id: r.id, ref: r.sender_reference, status: r.status } },
    h("td", { text: r.sender_reference }), h("td", { class: "hide-narrow", text: r.direction }), h("td", { text: r.counterparty_id }),
    h("td", { text: r.security_code }), h("td", { class: "num", text: num(r.quantity) }),
    h("td", { class: "num", text: `${money(r.amount_cents)} ${r.currency}` }), h("td", { class: "hide-narrow", text: r.settlement_date }),
    h("td", {}, h("span", { class: `badge st-${r.status}`, text: r.status })),
    h("td", { text: r.reason ? `${r.reason}${REASONS[r.reason] ? ` (${REASONS[r.reason]})` : ""}` : "" })))
      : [h("tr", {}, h("td", { colspan: cols.length, class: "muted", text: "No instructions match." }))]));
    st.flash.clear();
    pagerInfo.textContent = `Page ${st.page + 1} of ${pages} · ${rows.length} instruction${rows.length === 1 ? "" : "s"}`;
    prev.disabled = st.page === 0;
    next.disabled = st.page >= pages - 1;
    const now = performance.timeOrigin + performance.now();
    const fresh = [];
    for (const r of st.items) {
      const k = `${r.id}:${r.status}`;
      if (!(k in probe.shown)) { probe.shown[k] = now; fresh.push(k); }
    }
    if (fresh.length) {  // the next frame after the change: when it is on screen
      requestAnimationFrame(() => { const t = performance.timeOrigin + performance.now(); for (const k of fresh) probe.painted[k] = t; });
    }
    renderAlerts();
  }

  function renderAlerts() {
    const done = acked();
    const alerts = [];
    const cover = st.margin && st.margin.cover;
    if (cover && cover.margin_call > 0) {
      // One alert per call amount: a changed call is a new alert even after the last one was acknowledged.
      const key = `margin:${pid}:${cover.margin_call}`;
      if (!done.has(key)) {
        alerts.push([key, `Margin call: HKD ${num(cover.margin_call)} (requirement ${num(st.margin.total_requirement)}, ` +
          `collateral ${num(cover.collateral)})`, { sender_reference: "margin call" }]);
      }
    }
    for (const r of st.items) {
      let text = null;
      if (r.status === "pending" && (r.reason === "LACK" || r.reason === "MONY")) {
        text = `${r.sender_reference}: pending, ${REASONS[r.reason]} (${r.reason})`;
      } else if (r.status === "failed") text = `${r.sender_reference}: settlement failed${r.reason ? ` (${r.reason})` : ""}`;
      const key = `${r.id}:${r.status}:${r.reason || ""}`;
      if (text && !done.has(key)) alerts.push([key, text, r]);
    }
    alertCount.textContent = alerts.length ? ` (${alerts.length})` : "";
    alertList.replaceChildren(...(alerts.length ? alerts.map(([key, text, r]) => h("li", { dataset: { ref: r.sender_reference },
      class: key.startsWith("margin:") ? "alert-call" : null },
      h("span", { text }),
      h("button", { type: "button", class: "secondary", "aria-label": `Acknowledge alert for ${r.sender_reference}`,
        text: "Acknowledge", onclick: () => { ack(key); say(`Alert for ${r.sender_reference} acknowledged`); renderAlerts(); } })))
      : [h("li", { class: "muted", text: "No open alerts." })]));
  }

  async function loadInstructions() {
    st.items = await allPages("/instructions");
    renderTable();
  }

  async function loadMargin() {
    try {
      const m = await api("GET", `/margin/${pid}`);
      st.margin = m;
      marginView(marginBox, m);
      renderAlerts();
    } catch (e) {
      if (e.status !== 401) marginBox.replaceChildren(messageBox("info", explain(e, "Margin")));
    }
  }

  async function loadRuns() {
    try {
      const runs = await allPages(`/participants/${encodeURIComponent(pid)}/settlement-runs`);
      runsBody.replaceChildren(...(runs.length ? runs.slice().reverse().map((r) => {
        const reasons = Object.entries(r.pending_by_reason).map(([k, v]) => `${k} ${v}`).join(", ");
        const value = r.settled_value.map((v) => `${money(v.cents)} ${v.currency}`).join("; ");
        return h("tr", { dataset: { run: r.run_id } }, h("td", { text: r.run_id }),
          h("td", { text: r.name + (r.final ? " (final)" : "") }),
          h("td", { class: "hide-narrow", text: new Date(r.started_at.endsWith("Z") || /[+-]\d\d:\d\d$/.test(r.started_at)
            ? r.started_at : `${r.started_at}Z`).toLocaleTimeString("en-GB") }),
          h("td", { class: "num", text: r.settled }), h("td", { class: "num", text: r.partial }),
          h("td", { class: "num", text: r.pending }), h("td", { text: reasons || "—" }),
          h("td", { class: "num", text: r.failed }), h("td", { class: "num", text: value || "—" }));
      }) : [h("tr", {}, h("td", { colspan: 9, class: "muted", text: "No settlement runs yet today." }))]));
    } catch (e) {
      if (e.status !== 401) runsBody.replaceChildren(h("tr", {}, h("td", { colspan: 9 }, messageBox("info", explain(e, "Settlement runs")))));
    }
  }

  let refreshTimer = null;
  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      try {
        const [b] = await Promise.all([api("GET", `/accounts/${pid}/balances`), loadInstructions(), loadMargin(), loadRuns()]);
        renderBalances(b);
      } catch (e) { if (e.status !== 401) showBanner(explain(e, "Refresh")); }
    }, 250);
    S.timers.push(refreshTimer);
  }

  function onEvent(ev) {
    if (ev.type === "instruction.status") {
      const d = ev.data;
      for (const r of st.items) {
        if ((d.id != null && r.id === d.id) || (d.instruction_id != null && r.instruction_id === d.instruction_id)) {
          r.status = d.status;
          if ("reason" in d) r.reason = d.reason;
          if (d.tx_hash) r.tx_hash = d.tx_hash;
          st.flash.add(r.id);
        }
      }
      renderTable();
      say(`Instruction update: ${d.status}`);
    } else if (ev.type === "participant.status") {
      showBanner(`Participant ${ev.data.participant_id} is now ${ev.data.status}.`);
    }
    scheduleRefresh();
  }

  renderHead();
  page(`Dashboard — ${pid}`,
    h("p", {}, connBadge()),
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "bal-h" }, h("h2", { id: "bal-h", text: "Balances" }),
        h("table", { id: "cash" }, h("caption", { class: "sr-only", text: "Cash" }),
          h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Cash" }), h("th", { scope: "col", class: "num", text: "Amount" }))), cashBody),
        h("table", { id: "holdings" }, h("caption", { class: "sr-only", text: "Securities" }),
          h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Security" }), h("th", { scope: "col", class: "num", text: "Quantity" }))), secBody)),
      h("section", { class: "card", "aria-labelledby": "al-h" }, h("h2", { id: "al-h" }, "Alerts", alertCount), alertList),
      h("section", { class: "card", "aria-labelledby": "mg-h" }, h("h2", { id: "mg-h" }, "Margin requirement ",
        h("a", { href: `#/p/${pid}/what-if`, text: "What-if →" })), marginBox),
      h("section", { class: "card wide", "aria-labelledby": "myruns-h" }, h("h2", { id: "myruns-h", text: "Today's settlement runs — your instructions" }),
        h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": "Today's settlement runs table" }, h("table", { id: "myruns-table" },
          h("caption", { class: "sr-only", text: "Your instructions in each of today's settlement runs" }),
          h("thead", {}, h("tr", {}, ["Run", "Name", "Started", "Settled", "Partial", "Pending", "Pending by reason", "Failed", "Money settled"]
            .map((t, i) => h("th", { scope: "col", class: [3, 4, 5, 7, 8].includes(i) ? "num" : i === 2 ? "hide-narrow" : null, text: t })))),
          runsBody))),
      h("section", { class: "card wide", "aria-labelledby": "si-h" }, h("h2", { id: "si-h", text: "Settlement instructions" }),
        h("div", { class: "row" },
          h("div", {}, h("label", { for: "si-status", text: "Status" }), statusSel),
          h("div", {}, h("label", { for: "si-search", text: "Search" }), search)),
        h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": "Settlement instructions table" }, h("table", { id: "si-table" },
          h("caption", { class: "sr-only", text: "Settlement instructions; column headers sort" }),
          h("thead", {}, headRow), tbody)),
        h("div", { class: "pager" }, prev, next, pagerInfo))));
  renderBalances(balances);
  try {
    const after = await latestEventId();
    await Promise.all([loadInstructions(), loadMargin(), loadRuns()]);
    follow(after, onEvent, setConn);
    probe.ready = true;
  } catch (e) {
    if (e.status !== 401) showBanner(explain(e, "The dashboard"));
  }
}

function showBanner(text) { const b = $("#banner"); b.textContent = text; b.hidden = false; }

function marginView(box, m) {
  const comps = m.components;
  const blocks = BLOCKS.filter((k) => k in comps);
  const canvas = h("canvas", { role: "img", "aria-label": "Margin components: " +
    blocks.filter((k) => comps[k]).map((k) => `${label(k)} ${num(comps[k])}`).join(", ") });
  const c = m.cover;
  const cover = c ? h("dl", { class: "cover", id: "margin-cover" },
    h("dt", { text: "Collateral held" }), h("dd", { class: "num", id: "cover-collateral", text: num(c.collateral) }),
    h("dt", { text: "Coverage" }), h("dd", { class: "num", id: "cover-ratio",
      text: c.coverage_ratio === null ? "— (no requirement)" : `${(c.coverage_ratio * 100).toFixed(1)}%` }),
    h("dt", { text: "Margin call" }), h("dd", { class: `num ${c.margin_call > 0 ? "pos" : "neg"}`, id: "cover-call",
      text: c.margin_call > 0 ? `HKD ${num(c.margin_call)} (shortfall ${num(c.shortfall)})` : "none: covered" }),
    c.eligible ? null : h("dt", { text: "Deliveries" }), c.eligible ? null : h("dd", { class: "pos", text: `held: ${c.reason}` }))
    : h("p", { class: "muted", id: "margin-cover", text: "No collateral figure is configured for this participant." });
  box.replaceChildren(
    h("p", {}, "Total requirement (HKD): ", h("span", { class: "total", id: "margin-total", text: num(m.total_requirement) })),
    cover,
    h("div", { class: "chart" }, canvas),
    h("details", {}, h("summary", { text: "All components" }),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Component" }), h("th", { scope: "col", class: "num", text: "HKD" }))),
        h("tbody", {}, Object.entries(comps).map(([k, v]) => h("tr", {}, h("th", { scope: "row", text: label(k) }),
          h("td", { class: "num", text: num(v) })))))));
  chart(canvas, { type: "bar", data: { labels: blocks.map(label),
    datasets: [{ label: "HKD", data: blocks.map((k) => comps[k]), backgroundColor: "#0b4f9c" }] },
  options: { indexAxis: "y", maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } } } });
}

// ---- what-if -------------------------------------------------------------------------------------------

const MODES = [["current", "Current positions", "your open obligations, plus the trades"],
  ["hypothetical", "Hypothetical trades only", "a portfolio of just the trades"],
  ["uploaded", "Uploaded positions file", "the positions in a CSV file, plus the trades"]];
const SETS = { historical: "Historical (HVaR)", stressed: "Stressed (SVaR)" };

async function viewWhatIf(pid) {
  page(`What-if margin — ${pid}`, h("p", { text: "Loading…" }));
  let base, secs;
  try {
    [base, secs] = await Promise.all([api("GET", `/margin/${encodeURIComponent(pid)}`), allPages("/securities")]);
  } catch (e) {
    if (e.status === 401) return;
    page(`What-if margin — ${pid}`, messageBox("error", explain(e, e.code === "not_configured" ? "Margin" : `Participant ${pid}`)),
      h("a", { href: home(), text: "Go to your start page" }));
    return;
  }
  const trades = [];
  let result = null;
  let mode = "current";
  let upload = null;  // {name, text, positions}: only a file the service accepted
  const msg = h("div", { id: "wi-msg" });
  const uploadMsg = h("div", { id: "wi-upload-msg" });
  const sec = h("select", { id: "wi-sec" }, secs.map((s) => h("option", { value: s.code, text: `${s.code} ${s.name}` })));
  const qty = h("input", { id: "wi-qty", type: "number", step: 1, value: 1000, "aria-describedby": "wi-qty-help" });
  const price = h("input", { id: "wi-price", type: "number", step: "0.01", min: "0.01", value: "400" });
  const tradeBody = h("tbody", { id: "wi-trades" });
  const posBody = h("tbody", { id: "wi-positions" });
  const resBody = h("tbody", { id: "wi-result" });
  const newTotal = h("span", { class: "total", id: "wi-new-total", text: num(base.total_requirement) });
  const change = h("span", { id: "wi-change", text: "" });
  const timing = h("span", { class: "muted", id: "wi-ms" });
  const csvBtn = h("button", { type: "button", class: "secondary", id: "wi-csv", text: "Download CSV", disabled: true, onclick: downloadCsv });
  const canvas = h("canvas", { role: "img", "aria-label": "Margin components, current and with the hypothetical trades" });
  const file = h("input", { id: "wi-file", type: "file", accept: ".csv,text/csv", "aria-describedby": "wi-file-help",
    onchange: () => readFile() });
  const uploadBox = h("div", { id: "wi-upload", hidden: true },
    h("label", { for: "wi-file", text: "Positions file (CSV)" }), file,
    h("p", { id: "wi-file-help", class: "muted" }, "Header row, then one net position per security: ",
      h("code", { text: "security_code,quantity,price" }), " — quantity in shares (+ long, − short), price in HKD per share " +
      "(optional; blank = the parameter file's price)."),
    uploadMsg,
    h("table", { id: "wi-pos-table" }, h("caption", { class: "sr-only", text: "Uploaded positions" }),
      h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Row" }), h("th", { scope: "col", text: "Security" }),
        h("th", { scope: "col", class: "num", text: "Quantity" }), h("th", { scope: "col", class: "num", text: "Price" }))), posBody));
  const modeBox = h("fieldset", { class: "modes", id: "wi-mode" }, h("legend", { text: "Start from" }),
    MODES.map(([value, text, help]) => h("label", { class: "radio" },
      h("input", { type: "radio", name: "wi-mode", value, checked: value === mode, onchange: () => setMode(value) }),
      ` ${text} `, h("span", { class: "muted", text: `(${help})` }))));
  // distribution chart controls and text alternative
  const setSel = h("select", { id: "wi-set", onchange: () => renderDist() },
    Object.entries(SETS).map(([v, t]) => h("option", { value: v, text: t })));
  const pfSel = h("select", { id: "wi-pf", onchange: () => renderDist() },
    h("option", { value: "new", text: "With the trades" }), h("option", { value: "base", text: "Starting portfolio" }));
  const distCanvas = h("canvas", { id: "wi-dist-chart", role: "img", "aria-describedby": "wi-dist-summary",
    "aria-label": "Scenario P&L, sorted from the worst; the expected-shortfall tail is highlighted" });
  const distSummary = h("p", { id: "wi-dist-summary", "aria-live": "polite" });
  const tailBody = h("tbody", { id: "wi-tail" });

  function renderTrades() {
    tradeBody.replaceChildren(...(trades.length ? trades.map((t, i) => h("tr", {},
      h("td", { text: t.security_code }), h("td", { class: "num", text: signed(t.quantity) }),
      h("td", { class: "num", text: t.price.toFixed(2) }),
      h("td", {}, h("button", { type: "button", class: "secondary", "aria-label": `Remove trade ${i + 1}`, text: "Remove",
        onclick: () => { trades.splice(i, 1); renderTrades(); evaluate(); } }))))
      : [h("tr", {}, h("td", { colspan: 4, class: "muted", text: mode === "hypothetical"
        ? "No trades yet: add one to see its requirement." : "No hypothetical trades: the starting requirement applies." }))]));
  }

  function renderPositions() {
    const ps = upload ? upload.positions : [];
    posBody.replaceChildren(...(ps.length ? ps.map((p) => h("tr", {}, h("td", { text: p.row }), h("td", { text: p.security_code }),
      h("td", { class: "num", text: signed(p.quantity) }), h("td", { class: "num", text: p.price.toFixed(2) })))
      : [h("tr", {}, h("td", { colspan: 4, class: "muted", text: "No file loaded yet." }))]));
  }

  function renderResult() {
    const b = result ? result.base.components : base.components;
    const n = result ? result.new.components : base.components;
    const keys = Object.keys(b);
    resBody.replaceChildren(...keys.map((k) => {
      const d = (n[k] ?? 0) - (b[k] ?? 0);
      return h("tr", { dataset: { component: k } }, h("th", { scope: "row", text: label(k) }), h("td", { class: "num", text: num(b[k]) }),
        h("td", { class: "num", text: num(n[k]) }), h("td", { class: `num ${d > 0 ? "pos" : d < 0 ? "neg" : ""}`, text: d ? signed(d) : "0" }));
    }));
    const nt = result ? result.new.total_requirement : base.total_requirement;
    const bt = result ? result.base.total_requirement : base.total_requirement;
    newTotal.textContent = num(nt);
    const start = mode === "current" ? "current" : mode === "hypothetical" ? "empty portfolio" : "uploaded positions";
    change.textContent = nt === bt ? "no change" : `${signed(nt - bt)} vs ${start} ${num(bt)}`;
    const blocks = BLOCKS.filter((k) => k in b && (b[k] || n[k]));
    if (chartObj) {
      chartObj.data.labels = blocks.map(label);
      chartObj.data.datasets[0].data = blocks.map((k) => b[k]);
      chartObj.data.datasets[1].data = blocks.map((k) => n[k]);
      chartObj.update();
    }
    canvas.setAttribute("aria-label", `Margin components, ${start} vs with trades: ` +
      blocks.map((k) => `${label(k)} ${num(b[k])} to ${num(n[k])}`).join("; "));
    renderDist();
  }

  function renderDist() {
    const dist = result && result.distribution;
    const d = dist ? dist[pfSel.value].find((x) => x.scenario_set === setSel.value) : null;
    if (!d) {
      distSummary.textContent = "The scenario P&L appears once the requirement has been computed.";
      tailBody.replaceChildren();
      if (distChart) { distChart.data.labels = []; distChart.data.datasets.forEach((s) => { s.data = []; }); distChart.update(); }
      return;
    }
    const k = d.tail_count;
    const which = pfSel.value === "new" ? "with the trades" : "starting portfolio";
    // The worst k scenarios are the ES tail; the page draws exactly the API's tail, never its own cut.
    const text = `${SETS[d.scenario_set]}, ${which}: ${d.scenarios} scenarios at ${(d.confidence * 100).toFixed(1)}% ` +
      `confidence. The expected-shortfall tail is the worst ${k} (highlighted): VaR (tail cut-off) HKD ${num(d.var)}, ` +
      `expected shortfall HKD ${num(d.expected_shortfall)}; best scenario ${signed(d.pnl_sorted[d.pnl_sorted.length - 1] ?? 0)}.`;
    distSummary.textContent = text;
    distSummary.dataset.tail = k;
    tailBody.replaceChildren(...d.pnl_sorted.slice(0, k).map((v, i) => h("tr", {},
      h("td", { class: "num", text: i + 1 }), h("td", { class: "num", text: signed(v) }))));
    distCanvas.setAttribute("aria-label", `Scenario P&L sorted from the worst. ${text}`);
    if (distChart) {
      distChart.data.labels = d.pnl_sorted.map((_, i) => String(i + 1));
      distChart.data.datasets[0].label = `ES tail: worst ${k} of ${d.scenarios} (ES ${num(d.expected_shortfall)})`;
      distChart.data.datasets[0].data = d.pnl_sorted.map((v, i) => (i < k ? v : null));
      distChart.data.datasets[1].data = d.pnl_sorted.map((v, i) => (i < k ? null : v));
      distChart.update();
    }
  }

  function request() {
    const body = { mode, trades };
    if (mode === "uploaded") body.positions_csv = upload ? upload.text : "";
    return body;
  }

  let seq = 0;
  async function evaluate() {
    msg.replaceChildren();
    const mine = ++seq;  // also when nothing is sent: an answer still in flight is for inputs no longer shown
    if (mode === "uploaded" && !upload) {
      result = null; csvBtn.disabled = true; timing.textContent = ""; renderResult();
      newTotal.textContent = "—"; change.textContent = "load a positions file";
      return;
    }
    const t0 = performance.now();
    try {
      const r = await api("POST", `/margin/${pid}/what-if`, request());
      if (mine !== seq) return;
      result = r;
      csvBtn.disabled = false;
      renderResult();
      const ms = performance.now() - t0;  // request, computation and the table and charts redrawn
      if (trades.length) {
        probe.whatifMs.push(ms);
        timing.textContent = `computed in ${ms.toFixed(0)} ms`;
      } else timing.textContent = "";
      say(`New requirement ${num(r.new.total_requirement)}`);
    } catch (e) {
      if (e.status === 401 || mine !== seq) return;
      const m = e.field && /^trades\.(\d+)/.exec(e.field);
      msg.append(messageBox("error", m ? `Trade ${Number(m[1]) + 1}: ${e.message}` : `What-if failed: ${e.message}`));
    }
  }

  function setMode(value) {
    mode = value;
    uploadBox.hidden = mode !== "uploaded";
    renderTrades();
    evaluate();
    if (mode === "uploaded" && !upload) file.focus();
  }

  async function readFile() {
    uploadMsg.replaceChildren();
    const f = file.files && file.files[0];
    if (!f) return;
    if (f.size > 900_000) { uploadMsg.append(messageBox("error", `${f.name} is too large (at most 900 kB).`)); return; }
    const text = await f.text();
    const mine = ++seq;
    try {
      const r = await api("POST", `/margin/${pid}/what-if`, { mode: "uploaded", trades, positions_csv: text });
      if (mine !== seq) return;
      upload = { name: f.name, text, positions: r.positions };
      result = r;
      csvBtn.disabled = false;
      renderPositions();
      renderResult();
      uploadMsg.append(messageBox("info", `${f.name}: ${r.positions.length} position${r.positions.length === 1 ? "" : "s"} loaded.`));
      say(`Positions file loaded; requirement ${num(r.new.total_requirement)}`);
    } catch (e) {
      if (e.status === 401) return;
      // Nothing is applied: the previous file (if any) and its result stay as they were.
      const rows = (e.rows || []).map((x) => h("li", { dataset: { row: x.row } },
        `Row ${x.row}${x.field ? `, ${x.field}` : ""}: ${x.message}`));
      uploadMsg.append(h("div", { class: "msg error", role: "alert" },
        h("p", { text: `${f.name} was not loaded: ${e.message}` }), rows.length ? h("ul", { id: "wi-row-errors" }, rows) : null));
    }
  }

  function addTrade(ev) {
    ev.preventDefault();
    msg.replaceChildren();
    const q = Number(qty.value), p = Number(price.value);
    if (!Number.isInteger(q) || q === 0) { msg.append(messageBox("error", "Quantity must be a whole number, not zero (+ buy, − sell).")); qty.focus(); return; }
    if (!(p > 0)) { msg.append(messageBox("error", "Price must be more than zero.")); price.focus(); return; }
    trades.push({ security_code: sec.value, quantity: q, price: p });
    renderTrades();
    evaluate();
  }

  function csvCell(v) { const s = String(v); return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s; }
  function downloadCsv() {
    if (!result) return;
    const lines = [["section", "security_code", "quantity", "price", "component", "current", "with_trades", "change"]];
    for (const t of trades) lines.push(["trade", t.security_code, t.quantity, t.price, "", "", "", ""]);
    lines.push(["input", "", "", "", "mode", result.mode, "", ""]);
    if (result.mode === "uploaded" && upload) {
      lines.push(["input", "", "", "", "positions_file", upload.name, "", ""]);
      for (const p of result.positions) lines.push(["position", p.security_code, p.quantity, p.price, "", "", "", ""]);
    }
    for (const k of Object.keys(result.base.components)) {
      lines.push(["result", "", "", "", k, result.base.components[k], result.new.components[k], result.change[k] ?? ""]);
    }
    lines.push(["result", "", "", "", "total_requirement_total", result.base.total_requirement, result.new.total_requirement,
      result.new.total_requirement - result.base.total_requirement]);
    if (result.distribution) {
      for (const b of result.distribution.base) {
        const n = result.distribution.new.find((x) => x.scenario_set === b.scenario_set);
        for (const f of ["scenarios", "confidence", "tail_count", "var", "expected_shortfall"]) {
          lines.push(["distribution", "", "", "", `${b.scenario_set}_${f}`, b[f], n[f], f === "var" || f === "expected_shortfall" ? n[f] - b[f] : ""]);
        }
      }
    }
    const blob = new Blob([lines.map((l) => l.map(csvCell).join(",")).join("\n") + "\n"], { type: "text/csv" });
    const a = h("a", { href: URL.createObjectURL(blob), download: `what-if-${pid}.csv` });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  page(`What-if margin — ${pid}`,
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "wi-add-h" }, h("h2", { id: "wi-add-h", text: "Hypothetical trades" }),
        modeBox, uploadBox,
        h("p", { class: "muted", text: "Add or remove trades; the requirement is recomputed at once." }),
        h("form", { class: "row", id: "wi-form", onsubmit: addTrade },
          h("div", {}, h("label", { for: "wi-sec", text: "Security" }), sec),
          h("div", {}, h("label", { for: "wi-qty", text: "Quantity" }), qty),
          h("div", {}, h("label", { for: "wi-price", text: "Price (HKD)" }), price),
          h("div", {}, h("button", { type: "submit", id: "wi-add", text: "Add trade" }))),
        h("p", { id: "wi-qty-help", class: "muted", text: "Quantity: positive to buy (receive), negative to sell (deliver)." }),
        msg,
        h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Security" }), h("th", { scope: "col", class: "num", text: "Quantity" }),
          h("th", { scope: "col", class: "num", text: "Price" }), h("th", { scope: "col", text: "" }))), tradeBody)),
      h("section", { class: "card", "aria-labelledby": "wi-res-h" }, h("h2", { id: "wi-res-h", text: "Requirement" }),
        h("p", {}, "With trades (HKD): ", newTotal, " ", change, " ", timing),
        h("div", { class: "chart" }, canvas), h("p", {}, csvBtn)),
      h("section", { class: "card wide", "aria-labelledby": "wi-dist-h" }, h("h2", { id: "wi-dist-h", text: "Scenario P&L and the expected-shortfall tail" }),
        h("div", { class: "row" },
          h("div", {}, h("label", { for: "wi-set", text: "Scenario set" }), setSel),
          h("div", {}, h("label", { for: "wi-pf", text: "Portfolio" }), pfSel)),
        distSummary,
        h("div", { class: "chart tall" }, distCanvas),
        h("details", {}, h("summary", { text: "Tail scenarios (table)" }),
          h("table", { id: "wi-tail-table" }, h("caption", { class: "sr-only", text: "The expected-shortfall tail: worst scenarios" }),
            h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "num", text: "Rank (worst first)" }),
              h("th", { scope: "col", class: "num", text: "P&L (HKD)" }))), tailBody))),
      h("section", { class: "card wide", "aria-labelledby": "wi-cmp-h" }, h("h2", { id: "wi-cmp-h", text: "Change per component" }),
        h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": "Change per component table" }, h("table", { id: "wi-table" }, h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Component" }),
          h("th", { scope: "col", class: "num", text: "Start" }), h("th", { scope: "col", class: "num", text: "With trades" }),
          h("th", { scope: "col", class: "num", text: "Change" }))), resBody)))));
  const chartObj = chart(canvas, { type: "bar", data: { labels: [], datasets: [
    { label: "Start", data: [], backgroundColor: "#7a8596" }, { label: "With trades", data: [], backgroundColor: "#0b4f9c" }] },
  options: { maintainAspectRatio: false, animation: false } });
  const distChart = chart(distCanvas, { type: "bar", data: { labels: [], datasets: [
    { label: "ES tail", data: [], backgroundColor: "#a11a1a", grouped: false },
    { label: "Other scenarios", data: [], backgroundColor: "#7a8596", grouped: false }] },
  options: { maintainAspectRatio: false, animation: false, categoryPercentage: 1, barPercentage: 0.9,
    scales: { x: { title: { display: true, text: "Scenario rank (worst first)" }, ticks: { maxTicksLimit: 20 } },
      y: { title: { display: true, text: "P&L (HKD)" } } } } });
  renderTrades();
  renderPositions();
  renderResult();
  probe.ready = true;
  evaluate();
}

// ---- operator ------------------------------------------------------------------------------------------

async function viewOperator() {
  if (!isOperator()) {
    page("Operator", messageBox("error", "The operator view is for the market operator only (403)."),
      h("a", { href: home(), text: "Go to your dashboard" }));
    return;
  }
  const admin = hasGroup("operator-admin");
  const runBody = h("tbody", { id: "runs-body" });
  const partBody = h("tbody", { id: "parts-body" });
  const apprBody = h("tbody", { id: "appr-body" });
  const opMsg = h("div", { id: "op-msg" });
  const riskBox = h("div", { id: "op-risk" }, h("p", { class: "muted", text: "Loading…" }));
  const canvas = h("canvas", { role: "img", "aria-label": "Settlement progress by run" });
  const runName = h("input", { id: "run-name", value: "intraday", maxlength: 40 });
  let chartObj = null;

  function note(kind, text) { opMsg.replaceChildren(messageBox(kind, text)); }

  async function act(fn, ok) {
    try { await fn(); if (ok) note("info", ok); await load(); } catch (e) { if (e.status !== 401) note("error", e.message); }
  }

  function mrow(r, i) {
    return h("tr", { dataset: { pid: r.participant_id } }, h("td", { class: "num", text: i + 1 }), h("td", { text: r.participant_id }),
      h("td", { class: "num", text: num(r.total_requirement) }),
      h("td", { class: "num", text: r.collateral === null ? "not configured" : num(r.collateral) }),
      h("td", { class: "num", text: r.coverage_ratio === null ? "—" : `${(r.coverage_ratio * 100).toFixed(1)}%` }),
      h("td", { class: `num ${r.margin_call ? "pos" : ""}`, text: r.margin_call === null ? "—" : num(r.margin_call) }));
  }

  function mtable(id, caption, rows, empty) {
    return h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": caption }, h("table", { id },
      h("caption", { text: caption }),
      h("thead", {}, h("tr", {}, ["#", "Participant", "Requirement (HKD)", "Collateral", "Coverage", "Call (HKD)"].map((t, i) =>
        h("th", { scope: "col", class: i === 1 ? null : "num", text: t })))),
      h("tbody", {}, rows.length ? rows.map(mrow) : h("tr", {}, h("td", { colspan: 6, class: "muted", text: empty })))));
  }

  async function loadRisk() {
    let m;
    try { m = await api("GET", "/margin/summary?limit=10"); } catch (e) {
      if (e.status !== 401) riskBox.replaceChildren(messageBox("info", explain(e, "The margin summary")));
      return;
    }
    const c = m.cover2;
    riskBox.replaceChildren(
      h("p", {}, "Default fund, cover 2 (HKD): ", h("span", { class: "total", id: "op-cover2", text: num(c.fund_size) })),
      h("p", { class: "muted", id: "op-cover2-detail", text: `Two largest uncollateralised stress losses in the worst scenario ` +
        `(${c.worst_scenario || "none"}): ${c.cover2_groups.join(" and ") || "no participant"}; ${c.scenarios} scenarios ` +
        `(${c.scenario_source}); collateral basis: ${c.collateral_basis}; guarantee-fund limit ${num(c.limit)}` +
        (c.risk_collateral ? `, risk collateral ${num(c.risk_collateral)}` : "") + "." }),
      h("p", { id: "op-margin-totals" }, `Valuation date ${m.valuation_date}: ${m.participants} participants margined, ` +
        `total requirement ${num(m.total_requirement)}, calls ${num(m.total_calls)} from ${m.participants_called} participant` +
        `${m.participants_called === 1 ? "" : "s"}` + (m.not_margined.length ? `; not margined (no CP parameters): ${m.not_margined.join(", ")}` : "") + "."),
      mtable("mreq-table", "Largest margin requirements", m.largest_requirements, "No participants margined."),
      mtable("mcall-table", "Largest margin calls", m.largest_calls, "No margin calls: every participant with a collateral figure is covered."));
  }

  async function load() {
    const [runs, parts, approvals] = await Promise.all([allPages("/settlement-runs"), allPages("/participants"),
      allPages("/approvals"), loadRisk()]);
    runBody.replaceChildren(...(runs.length ? runs.slice().reverse().map((r) => {
      const f = r.figures || {};
      const reasons = Object.entries(f.pending_by_reason || {}).map(([k, v]) => `${k} ${v}`).join(", ");
      return h("tr", { dataset: { run: r.id } }, h("td", { text: r.id }), h("td", { text: r.name + (r.final ? " (final)" : "") }),
        h("td", { class: "num", text: f.submitted ?? 0 }), h("td", { class: "num", text: f.settled ?? 0 }),
        h("td", { class: "num", text: f.partial ?? 0 }), h("td", { class: "num", text: f.pending ?? 0 }),
        h("td", { text: reasons || "—" }), h("td", { class: "num", text: f.failed ?? 0 }));
    }) : [h("tr", {}, h("td", { colspan: 8, class: "muted", text: "No settlement runs yet today." }))]));
    const recent = runs.slice(-20);
    const series = [["settled", "#136c2e"], ["partial", "#0b4f9c"], ["pending", "#8a4b00"], ["failed", "#a11a1a"]];
    if (chartObj) {
      chartObj.data.labels = recent.map((r) => `#${r.id} ${r.name}`);
      series.forEach(([k], i) => { chartObj.data.datasets[i].data = recent.map((r) => (r.figures || {})[k] || 0); });
      chartObj.update();
    }
    canvas.setAttribute("aria-label", "Settlement progress by run: " + recent.map((r) =>
      `run ${r.id}: ${series.map(([k]) => `${(r.figures || {})[k] || 0} ${k}`).join(", ")}`).join("; "));
    partBody.replaceChildren(...parts.map((p) => {
      const sel = h("select", { id: `st-${p.id}`, "aria-label": `New status for ${p.id}` },
        ["active", "suspended", "defaulted"].filter((s) => s !== p.status).map((s) => h("option", { value: s, text: s })));
      const reason = h("input", { id: `rs-${p.id}`, "aria-label": `Reason for ${p.id}`, maxlength: 200, placeholder: "reason" });
      return h("tr", { dataset: { pid: p.id } }, h("td", { text: p.id }), h("td", { text: p.name }), h("td", { class: "hide-narrow", text: p.kind }),
        h("td", {}, h("span", { class: `badge st-${p.status === "active" ? "settled" : "failed"}`, text: p.status })),
        h("td", {}, admin ? h("div", { class: "row" }, sel, reason, h("button", { type: "button", text: "Request",
          "aria-label": `Request status change for ${p.id}`,
          onclick: () => act(() => api("POST", `/participants/${p.id}/status-changes`, { status: sel.value, reason: reason.value }),
            `Requested: ${p.id} → ${sel.value}. Another operator-admin must approve it.`) }))
          : h("span", { class: "muted", text: "view only" })));
    }));
    apprBody.replaceChildren(...(approvals.length ? approvals.slice().reverse().slice(0, 30).map((a) => h("tr", { dataset: { approval: a.id } },
      h("td", { text: a.id }), h("td", { text: `${a.target} → ${a.payload.status}${a.payload.reason ? ` (${a.payload.reason})` : ""}` }),
      h("td", { text: a.requested_by }), h("td", {}, h("span", { class: "badge", text: a.state })),
      h("td", {}, a.state === "pending" && admin ? [
        h("button", { type: "button", text: "Approve", "aria-label": `Approve request ${a.id}`,
          onclick: () => act(() => api("POST", `/approvals/${a.id}/approve`), `Request ${a.id} approved.`) }), " ",
        h("button", { type: "button", class: "secondary", text: "Reject", "aria-label": `Reject request ${a.id}`,
          onclick: () => act(() => api("POST", `/approvals/${a.id}/reject`), `Request ${a.id} rejected.`) })]
        : (a.decided_by || "")))) : [h("tr", {}, h("td", { colspan: 5, class: "muted", text: "No requests." }))]));
  }

  page("Operator — settlement and participants", h("p", {}, connBadge()), opMsg,
    h("div", { class: "grid" },
      h("section", { class: "card wide", "aria-labelledby": "runs-h" }, h("h2", { id: "runs-h", text: "Settlement progress by run" }),
        admin ? h("form", { class: "row", onsubmit: (ev) => { ev.preventDefault();
          act(() => api("POST", "/settlement-runs", { name: runName.value || "run" }), "Settlement run finished."); } },
        h("div", {}, h("label", { for: "run-name", text: "Run name" }), runName),
        h("div", {}, h("button", { type: "submit", id: "run-btn", text: "Start settlement run" }))) : null,
        h("div", { class: "chart" }, canvas),
        h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": "Settlement runs table" }, h("table", { id: "runs-table" }, h("thead", {}, h("tr", {},
          ["Run", "Name", "Obligations", "Settled", "Partial", "Pending", "Pending by reason", "Failed"].map((t, i) =>
            h("th", { scope: "col", class: [2, 3, 4, 5, 7].includes(i) ? "num" : null, text: t })))), runBody))),
      h("section", { class: "card wide", "aria-labelledby": "risk-h" }, h("h2", { id: "risk-h", text: "Margin, calls and the default fund" }), riskBox),
      h("section", { class: "card wide", "aria-labelledby": "parts-h" }, h("h2", { id: "parts-h", text: "Participants" }),
        h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": "Participants table" }, h("table", { id: "parts-table" }, h("thead", {}, h("tr", {},
          h("th", { scope: "col", text: "Id" }), h("th", { scope: "col", text: "Name" }), h("th", { scope: "col", class: "hide-narrow", text: "Kind" }),
          h("th", { scope: "col", text: "Status" }), h("th", { scope: "col", text: "Change (maker-checker)" }))), partBody))),
      h("section", { class: "card wide", "aria-labelledby": "appr-h" }, h("h2", { id: "appr-h", text: "Status change requests" }),
        h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": "Status change requests table" }, h("table", { id: "appr-table" }, h("thead", {}, h("tr", {},
          ["#", "Change", "Requested by", "State", "Decision"].map((t) => h("th", { scope: "col", text: t })))), apprBody)))));
  chartObj = chart(canvas, { type: "bar", data: { labels: [], datasets: [
    { label: "Settled", data: [], backgroundColor: "#136c2e" }, { label: "Partial", data: [], backgroundColor: "#0b4f9c" },
    { label: "Pending", data: [], backgroundColor: "#c77700" }, { label: "Failed", data: [], backgroundColor: "#a11a1a" }] },
  options: { maintainAspectRatio: false, animation: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } } });
  try {
    const after = await latestEventId();
    await load();
    let t = null;
    follow(after, () => { clearTimeout(t); t = setTimeout(() => load().catch(() => {}), 300); S.timers.push(t); }, setConn);
    probe.ready = true;
  } catch (e) {
    if (e.status !== 401) note("error", explain(e, "The operator view"));
  }
}

// ---- start ---------------------------------------------------------------------------------------------

window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (ev) => {
  showBanner("Something went wrong; reload the page. (" + (ev.reason && ev.reason.message ? ev.reason.message : "error") + ")");
});
$("#signout").addEventListener("click", signOut);
route();
