// agihub wallet page: plain ES2020, no bundler. The page builds calldata for the market contract and
// hands it to the browser wallet (EIP-1193); the wallet signs. No key ever reaches the page or the API.
// On an Aptos market (config.chain.kind === "aptos") it finds Aptos wallets through the wallet
// standard and asks them to sign and submit entry-function payloads built as the SDK builds them.
"use strict";

const $ = (id) => document.getElementById(id);
const WEI = 10n ** 18n;
const SEGMENT = 1024 * 1024; // agihub.storage.crypto.ORDER_SEGMENT_SIZE
const OVERHEAD = 12 + 16; // AES-GCM nonce + tag per segment

const app = { config: null, kind: "evm", decimals: 18, unit: "ETH", amountMax: 0n, account: null, chain: null,
              market: null, models: [], relays: [], orderId: null, order: null, source: null, sealed: null,
              aptosWallets: [], aptosWallet: null, settleTimer: null };

// ---- errors ---------------------------------------------------------------------------------------
class Refused extends Error {} // refused in the page before anything is sent; message names the rule

function show(id, text) { $(id).textContent = text; }

// ---- ABI encoding of the few calls the page makes ------------------------------------------------
function word(value) {
  const v = BigInt(value);
  if (v < 0n || v >= 1n << 256n) throw new Refused("E_OVERFLOW: a value does not fit in uint256");
  return v.toString(16).padStart(64, "0");
}
function addressWord(a) {
  if (!/^0x[0-9a-fA-F]{40}$/.test(a)) throw new Refused(`not an address: ${a}`);
  return a.slice(2).toLowerCase().padStart(64, "0");
}
function bytes32Word(h) {
  if (!/^0x[0-9a-fA-F]{64}$/.test(h)) throw new Refused(`not a 32-byte hex value: ${h}`);
  return h.slice(2).toLowerCase();
}
function encodePull(root, relays, down, cost, tip, windows) {
  const head = [bytes32Word(root), word(8 * 32), word(down), word(cost), word(tip), ...windows.map(word)];
  const tail = [word(relays.length), ...relays.map(addressWord)];
  return app.config.selectors.pull + head.join("") + tail.join("");
}
const encodeConfirm = (id, root) => app.config.selectors.confirm_received + word(id) + bytes32Word(root);
const encodeCancel = (id) => app.config.selectors.cancel + word(id);
const encodeRaise = (id, down, cost, tip) => app.config.selectors.raise_payment + word(id) + word(down) + word(cost) + word(tip);
const encodeSettle = (id) => app.config.selectors.settle + word(id);

// Error(string) revert data -> the catalogued name ("E_ZERO_AMOUNT") when there is one.
function revertName(data, fallback) {
  if (typeof data === "string" && data.startsWith("0x08c379a0")) {
    const hex = data.slice(10);
    const len = Number(BigInt("0x" + hex.slice(64, 128)));
    const bytes = hex.slice(128, 128 + 2 * len).match(/../g) || [];
    const text = new TextDecoder().decode(new Uint8Array(bytes.map((b) => parseInt(b, 16))));
    const m = text.match(/E_[A-Z_]+/);
    return m ? m[0] : text;
  }
  const m = String(fallback || "").match(/E_[A-Z_]+/);
  return m ? m[0] : String(fallback || "reverted without a reason");
}
function findRevertData(err) {
  for (let e = err; e; e = e.data && typeof e.data === "object" ? e.data : e.cause) {
    if (typeof e.data === "string") return e.data;
    if (e.data && typeof e.data.data === "string") return e.data.data;
    if (!e.data && !e.cause) break;
  }
  return null;
}

// ---- Aptos wallets: the wallet standard ----------------------------------------------------------------
// A wallet announces itself with the window event "wallet-standard:register-wallet", whose detail is a
// callback taking {register}; one that loads after the page answers our "wallet-standard:app-ready".
const APTOS_FEATURES = ["aptos:connect", "aptos:account", "aptos:signAndSubmitTransaction"];
const APTOS_CHAIN_IDS = { mainnet: 1, testnet: 2, localnet: 4 };
function registerWallets(...wallets) {
  for (const w of wallets) {
    if (w && w.features && APTOS_FEATURES.every((f) => f in w.features) && !app.aptosWallets.includes(w)) {
      app.aptosWallets.push(w);
    }
  }
  if (app.config && app.kind === "aptos") showWallets();
  return () => { app.aptosWallets = app.aptosWallets.filter((w) => !wallets.includes(w)); };
}
const walletStandardApi = Object.freeze({ register: registerWallets });
window.addEventListener("wallet-standard:register-wallet", (event) => {
  try { event.detail(walletStandardApi); } catch (err) { console.warn("a wallet failed to register", err); }
});
window.dispatchEvent(new CustomEvent("wallet-standard:app-ready", { detail: walletStandardApi }));

function showWallets() {
  show("wallets", app.aptosWallets.length
    ? `Aptos wallets found: ${app.aptosWallets.map((w) => w.name).join(", ")}`
    : "no Aptos wallet found yet (wallet standard)");
}

function aptosAddress(a) { // agihub.chain.aptos.canonical_address
  if (typeof a !== "string" || !/^0[xX][0-9a-fA-F]{1,64}$/.test(a)) throw new Refused(`not an Aptos address: ${a}`);
  return "0x" + a.slice(2).toLowerCase().padStart(64, "0");
}
// One argument as agihub.chain.aptos._json_arg writes it: u64 as a decimal string, vector<u8> as 0x-hex,
// addresses as 0x + 64 hex digits.
function aptosArg(kind, value, name) {
  if (kind === "uint") {
    const v = BigInt(value);
    if (v < 0n || v >= 1n << 64n) throw new Refused(`E_OVERFLOW: ${name} does not fit in u64`);
    return v.toString();
  }
  if (kind === "bytes32") return "0x" + bytes32Word(value);
  if (kind === "address") return aptosAddress(value);
  if (kind === "address_list") return value.map(aptosAddress);
  throw new Refused(`the page cannot encode a ${kind} argument (${name})`);
}
// The entry-function payload of `<module>::market::<name>`: parameters in the SDK catalogue's order
// (config.chain.functions), the coin type for the coin-generic functions.
function aptosPayload(name, values) {
  const c = app.config.chain;
  const params = c.functions[name];
  if (!params) throw new Refused(`the page does not call ${name} on Aptos`);
  return {
    function: `${c.module}::${c.module_name}::${name}`,
    typeArguments: c.coin_generic.includes(name) ? [c.coin_type] : [],
    functionArguments: params.map(([param, kind]) => aptosArg(kind, values[param], param)),
  };
}
async function aptosSubmit(name, values) {
  if (!app.aptosWallet) throw new Refused("connect an Aptos wallet first");
  const payload = aptosPayload(name, values);
  const reply = await app.aptosWallet.features["aptos:signAndSubmitTransaction"].signAndSubmitTransaction({ payload });
  if (!reply || reply.status !== "Approved") {
    throw new Refused(`the wallet did not submit ${name}: ${reply ? reply.status : "no answer"}`);
  }
  return (reply.args && reply.args.hash) || "";
}

async function connectAptos() {
  const w = app.aptosWallets[0];
  if (!w) {
    throw new Refused("no Aptos wallet found (wallet standard with aptos:connect, aptos:account, " +
                      "aptos:signAndSubmitTransaction): install one and reload");
  }
  const reply = await w.features["aptos:connect"].connect();
  if (reply && reply.status === "Rejected") throw new Refused(`${w.name} refused to connect`);
  const info = await w.features["aptos:account"].account();
  let chainId = null;
  if (w.features["aptos:network"]) chainId = (await w.features["aptos:network"].network()).chainId;
  if (chainId === null || chainId === undefined) {
    const known = (w.chains || []).map((c) => c.split(":")[1]).find((n) => n in APTOS_CHAIN_IDS);
    chainId = known ? APTOS_CHAIN_IDS[known] : null;
  }
  if (chainId === null || chainId === undefined) {
    throw new Refused(`cannot tell which Aptos network ${w.name} is on (chains: ${w.chains})`);
  }
  app.aptosWallet = w;
  app.account = aptosAddress(String(info.address));
  app.chain = `aptos:${chainId}`;
}

// ---- wallet ------------------------------------------------------------------------------------------
function wallet() {
  if (!window.ethereum) throw new Refused("no browser wallet found (window.ethereum): install one and reload");
  return window.ethereum;
}
const rpc = (method, params = []) => wallet().request({ method, params });

async function connect() {
  show("wallet-error", "");
  try {
    if (app.config.chain.error) throw new Refused(app.config.chain.error);
    if (app.kind === "aptos") {
      await connectAptos();
    } else {
      const [account] = await rpc("eth_requestAccounts");
      app.account = account;
      app.chain = `evm:${BigInt(await rpc("eth_chainId"))}`;
    }
    show("account", app.account);
    show("chain", app.chain);
    await loadCatalogue();
    document.body.dataset.connected = app.kind;
  } catch (err) {
    show("wallet-error", err.message || String(err));
  }
}

// Simulate with eth_call first: a revert is shown by its contract error name and nothing is sent.
async function send(data, value = 0n) {
  if (!app.market) throw new Refused("no market address: open the page as /app?market=0x...");
  const tx = { from: app.account, to: app.market, data, value: "0x" + value.toString(16) };
  try {
    await rpc("eth_call", [tx, "latest"]);
  } catch (err) {
    throw new Refused(`the contract refuses: ${revertName(findRevertData(err), err.message)}`);
  }
  const hash = await rpc("eth_sendTransaction", [tx]);
  for (let i = 0; i < 600; i++) {
    const receipt = await rpc("eth_getTransactionReceipt", [hash]);
    if (receipt) {
      if (receipt.status !== "0x1") throw new Error(`transaction ${hash} reverted`);
      return receipt;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`transaction ${hash} not mined after 120 s`);
}

// ---- catalogue ----------------------------------------------------------------------------------------
async function api(path) {
  const response = await fetch(path);
  const body = await response.json();
  if (!response.ok) throw new Error(`${path}: ${body.error_code || response.status} ${body.message || ""}`);
  return body;
}

function cell(row, text, mono = false) {
  const td = row.insertCell();
  td.textContent = text;
  if (mono) td.className = "mono";
  return td;
}

function formatEth(wei) { // the chain's coin: ETH (18 decimals) or APT (8)
  const v = BigInt(wei);
  const one = 10n ** BigInt(app.decimals);
  const frac = (v % one).toString().padStart(app.decimals, "0").replace(/0+$/, "");
  return `${v / one}${frac ? "." + frac : ""} ${app.unit}`;
}

// An offer's price is per GiB delivered, in the chain's smallest unit (kind 31338 `price` tag).
const priceText = (price) => (price === null || price === undefined ? "no price"
  : `${price} ${app.kind === "aptos" ? "octas" : "wei"}/GiB`);

async function loadCatalogue() {
  const q = `chain=${encodeURIComponent(app.chain)}&limit=100`;
  const [models, relays] = await Promise.all([api(`/models?${q}`), api(`/relays?${q}&registered=true`)]);
  app.models = models.items;
  app.relays = relays.items;
  const mbody = $("models").tBodies[0];
  mbody.replaceChildren();
  for (const m of app.models) {
    const row = mbody.insertRow();
    row.dataset.root = m.model_root;
    const pick = document.createElement("input");
    Object.assign(pick, { type: "radio", name: "model", value: m.model_root });
    row.insertCell().append(pick);
    cell(row, m.model_root, true);
    cell(row, (m.cards[0] && m.cards[0].name) || "");
    cell(row, m.contributor, true);
    cell(row, m.offers.map((o) => `${o.endpoint} (${priceText(o.price)})`).join(", ") || "no relay offer read yet");
  }
  const rbody = $("relays").tBodies[0];
  rbody.replaceChildren();
  for (const r of app.relays) {
    const row = rbody.insertRow();
    row.dataset.address = r.address;
    const pick = document.createElement("input");
    Object.assign(pick, { type: "checkbox", name: "relay", value: r.address });
    row.insertCell().append(pick);
    cell(row, r.address, true);
    cell(row, r.endpoint || "", true);
    cell(row, r.offer ? priceText(r.offer.price) : "no offer read yet");
  }
}

// ---- order -----------------------------------------------------------------------------------------
function parseEth(text, field) { // an amount of the chain's coin (ETH or APT) in its smallest unit
  const d = app.decimals;
  const m = String(text).trim().match(new RegExp(`^(\\d+)(?:\\.(\\d{0,${d}}))?$`));
  if (!m) throw new Refused(`${field}: "${text}" is not an amount in ${app.unit} (up to ${d} decimals)`);
  return BigInt(m[1]) * 10n ** BigInt(d) + BigInt((m[2] || "").padEnd(d, "0"));
}
function parseWindow(text, field) {
  if (!/^\d+$/.test(String(text).trim())) throw new Refused(`${field}: "${text}" is not a number of seconds`);
  const s = BigInt(text.trim());
  if (s === 0n || s > BigInt(app.config.max_window_s)) {
    throw new Refused(`E_BAD_WINDOW: ${field} must be 1..${app.config.max_window_s} s`);
  }
  return s;
}

// The same rules as market.vy's pull, checked before anything is sent; each names the contract error.
function readOrderForm() {
  const root = document.querySelector('input[name="model"]:checked');
  if (!root) throw new Refused("choose a model to order");
  const relays = [...document.querySelectorAll('input[name="relay"]:checked')].map((e) => e.value);
  if (relays.length === 0) throw new Refused("E_NO_RELAYS: name at least one relay");
  if (relays.length > app.config.max_relays) {
    throw new Refused(`E_TOO_MANY_RELAYS: at most ${app.config.max_relays} relays`);
  }
  if (new Set(relays.map((r) => r.toLowerCase())).size !== relays.length) {
    throw new Refused("E_DUPLICATE_RELAY: a relay is named twice");
  }
  const down = parseEth($("down").value, "down payment");
  const cost = parseEth($("cost").value, "cost");
  const tip = parseEth($("tip").value, "tip");
  if (cost === 0n) throw new Refused("E_ZERO_AMOUNT: the cost must be more than zero");
  const max = app.amountMax;
  if (down > max || cost > max || tip > max) throw new Refused(`E_OVERFLOW: each amount must be at most ${max} wei`);
  const windows = [["take-window", "take window"], ["ack-window", "ack window"], ["reveal-window", "reveal window"]]
    .map(([id, name]) => parseWindow($(id).value, name));
  return { root: root.value, relays, down, cost, tip, windows };
}

async function placeOrder() {
  show("order-error", "");
  show("order-status", "");
  try {
    if (!app.account) throw new Refused("connect a wallet first");
    const o = readOrderForm();
    if (app.kind === "aptos") {
      const before = await buyerOrderIds();
      const hash = await aptosSubmit("pull", { model_root: o.root, relays: o.relays, down: o.down, cost: o.cost, tip: o.tip,
        take_window_s: o.windows[0], ack_window_s: o.windows[1], reveal_window_s: o.windows[2] });
      show("order-status", `order submitted by the wallet (tx ${hash}): ${formatEth(o.down + o.cost + o.tip)} ` +
                           "escrowed once it executes; it is followed below as soon as the indexer has it");
      awaitNewOrder(before);
      return;
    }
    const receipt = await send(encodePull(o.root, o.relays, o.down, o.cost, o.tip, o.windows), o.down + o.cost + o.tip);
    const log = receipt.logs.find((l) => l.topics[0] === app.config.topics.OrderPulled);
    if (!log) throw new Error("the receipt has no OrderPulled event: is this the agihub market?");
    app.orderId = BigInt(log.topics[1]);
    show("order-status", `order #${app.orderId} placed: ${formatEth(o.down + o.cost + o.tip)} escrowed (tx ${receipt.transactionHash})`);
    show("order-id", `#${app.orderId}`);
    watch();
  } catch (err) {
    show("order-error", err.message || String(err));
  }
}

// Aptos: the wallet returns only the transaction hash, so the new order is found in the API.
async function buyerOrderIds() {
  const page = await api(`/orders?chain=${encodeURIComponent(app.chain)}&buyer=${app.account}&limit=100`);
  return new Set(page.items.map((o) => String(o.order_id)));
}
async function awaitNewOrder(before) {
  for (let i = 0; i < 600 && !app.orderId; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    try {
      const fresh = [...await buyerOrderIds()].filter((id) => !before.has(id));
      if (fresh.length) { followOrder(BigInt(fresh[0])); return; }
    } catch (err) { /* the API may be restarting: try again */ }
  }
}

function followOrder(id) {
  app.orderId = id;
  app.order = null;
  $("timeline").replaceChildren();
  show("order-id", `#${id}`);
  watch();
}

// ---- live progress ----------------------------------------------------------------------------------
async function refreshOrder() {
  app.order = await api(`/orders/${app.chain}/${app.orderId}`);
  const state = app.order.state_name.toUpperCase();
  show("order-state", state);
  $("order-state").dataset.state = state;
  $("fetch-confirm").disabled = state !== "TAKEN";
  $("cancel").disabled = state !== "OPEN";
  $("raise").disabled = state !== "OPEN" && state !== "TAKEN";
  await updateSettle();
  if (state === "COMPLETED") await showReveal();
}

// ---- settle: an order past its current deadline in OPEN, TAKEN or ACKED can be expired --------------
async function chainNow() { // the chain's clock (a local chain may have travelled in time)
  if (app.kind === "evm") return Number(BigInt((await rpc("eth_getBlockByNumber", ["latest", false])).timestamp));
  return Math.floor(Date.now() / 1000);
}
async function updateSettle() {
  const o = app.order;
  const settleable = o && app.config.settleable.includes(o.state_name.toUpperCase());
  const due = settleable && (await chainNow()) > Number(o.deadline);
  $("settle").hidden = !due;
  $("settle").disabled = !due;
}
// market.vy / market.move settle: OPEN refunds down + cost + tip, TAKEN or ACKED cost + tip.
function expectedRefund(o) {
  const paid = BigInt(o.cost) + BigInt(o.tip);
  return o.state_name.toUpperCase() === "OPEN" ? paid + BigInt(o.down) : paid;
}
async function settleOrder() {
  show("progress-error", "");
  show("progress-status", "");
  $("settle").disabled = true;
  try {
    let refund, tx;
    if (app.kind === "aptos") {
      refund = expectedRefund(app.order);
      tx = await aptosSubmit("settle", { order_id: app.orderId });
    } else {
      const receipt = await send(encodeSettle(app.orderId));
      const log = receipt.logs.find((l) => l.topics[0] === app.config.topics.OrderSettled);
      if (!log) throw new Error("the receipt has no OrderSettled event: is this the agihub market?");
      refund = BigInt("0x" + log.data.slice(2 + 64, 2 + 128)); // (from_state, refund)
      tx = receipt.transactionHash;
    }
    $("settle").dataset.refund = refund.toString();
    show("progress-status", `order #${app.orderId} settled (expired): ${formatEth(refund)} refunded to your ` +
                            `credits, withdraw them (tx ${tx})`);
    $("settle").hidden = true;
  } catch (err) {
    show("progress-error", err.message || String(err));
    $("settle").disabled = false;
  }
}

async function watch() {
  if (app.source) app.source.close();
  // The SSE route answers 404 until the indexer has seen the order: wait for it first.
  for (let i = 0; ; i++) {
    const response = await fetch(`/orders/${app.chain}/${app.orderId}`);
    if (response.ok) break;
    if (i > 600) { show("progress-error", "the indexer has not seen the order after 2 minutes"); return; }
    await new Promise((r) => setTimeout(r, 200));
  }
  try { await refreshOrder(); } catch (err) { show("progress-error", err.message); }
  clearInterval(app.settleTimer); // the deadline passes without an event: look at the clock every second
  app.settleTimer = setInterval(() => updateSettle().catch(() => {}), 1000);
  const source = new EventSource(`/orders/${app.chain}/${app.orderId}/events?interval=0.2`);
  app.source = source;
  source.addEventListener("order_event", async (message) => {
    const e = JSON.parse(message.data);
    const li = document.createElement("li");
    li.textContent = `block ${e.block_number}: ${e.event} -> ${app.config.states[e.state] || e.state}`;
    li.dataset.event = e.event;
    $("timeline").append(li);
    try { await refreshOrder(); } catch (err) { show("progress-error", err.message); }
  });
}

// ---- delivery: download, check, confirm -----------------------------------------------------------
function normalizeRelayUrl(url) { // agihub_services.relay.auth.normalize_relay_url
  const m = url.trim().match(/^([^:/?#]+):\/\/([^/?#]*)([^?#]*)/);
  if (!m) throw new Error(`relay endpoint is not a URL: ${url}`);
  return `${m[1].toLowerCase()}://${m[2].toLowerCase()}${m[3].replace(/\/+$/, "")}`;
}
const utf8Hex = (text) => "0x" + [...new TextEncoder().encode(text)].map((b) => b.toString(16).padStart(2, "0")).join("");
const hex = (bytes) => "0x" + [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
const sha256 = async (...parts) => new Uint8Array(await crypto.subtle.digest("SHA-256", concat(parts)));
function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

// agihub.storage.crypto.delivered_root_of: sha256 per sealed segment, then the domain-separated
// Merkle tree of agihub.storage.merkle (odd node promoted).
async function deliveredRoot(sealed) {
  const count = Math.max(1, Math.ceil(sealed.length / (SEGMENT + OVERHEAD)));
  const plain = sealed.length - count * OVERHEAD;
  if (plain < 0 || plain + count * OVERHEAD !== sealed.length) throw new Error("the delivery has an impossible size");
  let level = [];
  for (let i = 0, at = 0; i < count; i++) {
    const length = Math.min(SEGMENT, plain - i * SEGMENT) + OVERHEAD;
    level.push(await sha256(new Uint8Array([0]), await sha256(sealed.subarray(at, at + length))));
    at += length;
  }
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(await sha256(new Uint8Array([1]), level[i], level[i + 1]));
    if (level.length % 2) next.push(level[level.length - 1]);
    level = next;
  }
  return { root: hex(level[0]), plain };
}

async function fetchAndConfirm() {
  show("progress-error", "");
  $("fetch-confirm").disabled = true;
  try {
    if (app.kind === "aptos") {
      throw new Refused("relays accept delivery downloads signed by EVM accounts only: on Aptos, fetch and " +
                        "confirm with the SDK or CLI (agihub order confirm)");
    }
    const relay = await api(`/relays/${app.chain}/${app.order.taker}`);
    const endpoint = relay.endpoint;
    const base = endpoint.replace(/^ws(s?):\/\//i, "http$1://").replace(/\/+$/, "");
    const now = Math.floor(Date.now() / 1000);
    const message = `agihub delivery\nrelay: ${normalizeRelayUrl(endpoint)}\nmarket: ${app.market.toLowerCase()}\n` +
                    `order: ${app.orderId}\ntime: ${now}`;
    const signature = await rpc("personal_sign", [utf8Hex(message), app.account]);
    const response = await fetch(`${base}/delivery/${app.market}/${app.orderId}`, {
      headers: { "X-Agihub-Buyer-Auth": `${now}.${signature}` },
    });
    if (!response.ok) throw new Error(`relay ${base} refused the download: HTTP ${response.status} ${await response.text()}`);
    app.sealed = new Uint8Array(await response.arrayBuffer());
    const { root, plain } = await deliveredRoot(app.sealed);
    show("delivery", `received ${app.sealed.length} sealed bytes (${plain} plain) from ${base}; delivery root ${root}`);
    $("delivery").dataset.root = root;
    const link = $("save-sealed");
    link.href = URL.createObjectURL(new Blob([app.sealed], { type: "application/octet-stream" }));
    link.download = `order-${app.orderId}.sealed`;
    link.hidden = false;
    await send(encodeConfirm(app.orderId, root));
  } catch (err) {
    show("progress-error", err.message || String(err));
    $("fetch-confirm").disabled = false;
  }
}

async function cancelOrder() {
  show("progress-error", "");
  try {
    if (app.kind === "aptos") await aptosSubmit("cancel", { order_id: app.orderId });
    else await send(encodeCancel(app.orderId));
    show("progress-status", `order #${app.orderId} cancelled: the escrow is credited to you, withdraw it`);
  } catch (err) {
    show("progress-error", err.message || String(err));
  }
}

// market.vy raise_payment: any amount while OPEN, the tip only once TAKEN; the sum must be positive.
async function raisePayment() {
  show("progress-error", "");
  show("progress-status", "");
  try {
    const down = parseEth($("add-down").value, "down");
    const cost = parseEth($("add-cost").value, "cost");
    const tip = parseEth($("add-tip").value, "tip");
    if (down + cost + tip === 0n) throw new Refused("E_ZERO_AMOUNT: raise at least one amount");
    if (app.order.state_name.toUpperCase() === "TAKEN" && down + cost > 0n) {
      throw new Refused("E_WRONG_STATE: once the order is taken only the tip can be raised");
    }
    if (app.kind === "aptos") await aptosSubmit("raise_payment", { order_id: app.orderId, down, cost, tip });
    else await send(encodeRaise(app.orderId, down, cost, tip), down + cost + tip);
    show("progress-status", `raised the payment of order #${app.orderId} by ${formatEth(down + cost + tip)}`);
    await refreshOrder();
  } catch (err) {
    show("progress-error", err.message || String(err));
  }
}

async function withdrawCredits() {
  show("progress-error", "");
  try {
    if (!app.account) throw new Refused("connect a wallet first");
    const tx = app.kind === "aptos" ? await aptosSubmit("withdraw", {})
      : (await send(app.config.selectors.withdraw)).transactionHash;
    show("progress-status", `withdrew your credits (tx ${tx})`);
  } catch (err) {
    show("progress-error", err.message || String(err));
  }
}

// agihub.storage.crypto.open_delivery: HKDF-SHA256(key, salt, "agihub/order-key/v1") -> AES-256-GCM per
// segment (nonce || ciphertext || tag), AAD = "agihub/order-segment/v1" || salt || index, count (u64 BE).
async function openDelivery(sealed, keyHex, saltHex) {
  const bytesOf = (h) => new Uint8Array(h.slice(2).match(/../g).map((b) => parseInt(b, 16)));
  const salt = bytesOf(saltHex);
  const ikm = await crypto.subtle.importKey("raw", bytesOf(keyHex), "HKDF", false, ["deriveKey"]);
  const info = new TextEncoder().encode("agihub/order-key/v1");
  const key = await crypto.subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt, info }, ikm,
                                            { name: "AES-GCM", length: 256 }, false, ["decrypt"]);
  const count = Math.max(1, Math.ceil(sealed.length / (SEGMENT + OVERHEAD)));
  const plain = sealed.length - count * OVERHEAD;
  const context = concat([new TextEncoder().encode("agihub/order-segment/v1"), salt]);
  const out = new Uint8Array(plain);
  for (let i = 0, at = 0; i < count; i++) {
    const length = Math.min(SEGMENT, plain - i * SEGMENT) + OVERHEAD;
    const numbers = new DataView(new ArrayBuffer(16));
    numbers.setBigUint64(0, BigInt(i));
    numbers.setBigUint64(8, BigInt(count));
    const segment = sealed.subarray(at, at + length);
    let clear;
    try {
      clear = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: segment.subarray(0, 12), additionalData: concat([context, new Uint8Array(numbers.buffer)]) },
        key, segment.subarray(12));
    } catch {
      throw new Error(`segment ${i} failed authentication: wrong key, or the delivery was altered`);
    }
    out.set(new Uint8Array(clear), i * SEGMENT);
    at += length;
  }
  return out;
}

// ---- the revealed key ----------------------------------------------------------------------------------
async function showReveal() {
  if ($("reveal").dataset.key) return;
  if (app.kind === "aptos") {
    show("reveal", "the relay revealed the order key: read it and open the delivery with the SDK " +
                   "(Client.open) or the CLI (agihub order open)");
    return;
  }
  const logs = await rpc("eth_getLogs", [{ address: app.market, fromBlock: "0x0", toBlock: "latest",
    topics: [app.config.topics.KeyRevealed, "0x" + word(app.orderId)] }]);
  if (logs.length === 0) throw new Error("the order is completed but no KeyRevealed event was found");
  const data = logs[0].data.slice(2);
  const key = "0x" + data.slice(0, 64);
  const salt = "0x" + data.slice(64, 128);
  $("reveal").dataset.key = key;
  $("reveal").dataset.salt = salt;
  show("reveal", `the relay revealed the order key ${key} (salt ${salt}) and was paid ${formatEth(BigInt("0x" + data.slice(128, 192)))}`);
  const file = `order-${app.orderId}.sealed`;
  $("command").textContent =
    `# decrypt the sealed delivery (saved above) with the revealed key, check its shards against the model's\n` +
    `# signed manifest (from any relay holding it) and rebuild the model (a private model: add --key-file):\n` +
    `python -m agihub_services.web.open_delivery ${file} --key ${key} --salt ${salt} \\\n` +
    `    --manifest manifest.json --out-dir order-${app.orderId} --out order-${app.orderId}.safetensors`;
  $("command").hidden = false;
  if (app.sealed) {
    const bundle = await openDelivery(app.sealed, key, salt);
    const link = $("save-bundle");
    link.href = URL.createObjectURL(new Blob([bundle], { type: "application/octet-stream" }));
    link.download = `order-${app.orderId}.bundle`;
    link.textContent = `save the decrypted shards (${bundle.length} bytes, authenticated)`;
    link.hidden = false;
  }
}

// ---- start ---------------------------------------------------------------------------------------------
async function followFromForm() {
  show("progress-error", "");
  try {
    if (!app.chain) throw new Refused("connect a wallet first");
    const text = $("follow-id").value.trim();
    if (!/^\d+$/.test(text)) throw new Refused(`"${text}" is not an order number`);
    followOrder(BigInt(text));
  } catch (err) {
    show("progress-error", err.message || String(err));
  }
}

async function start() {
  app.config = await api("/app/config.json");
  const chain = app.config.chain;
  app.kind = chain.kind;
  app.decimals = chain.decimals || 18;
  app.unit = chain.unit || "ETH";
  app.amountMax = app.kind === "aptos" ? (1n << 64n) - 1n : BigInt(app.config.amount_max);
  for (const e of document.querySelectorAll(".unit")) e.textContent = app.unit;
  if (chain.error) show("wallet-error", chain.error);
  if (app.kind === "aptos") showWallets();
  const fromUrl = new URLSearchParams(location.search).get("market");
  const pattern = app.kind === "aptos" ? /^0x[0-9a-fA-F]{1,64}$/ : /^0x[0-9a-fA-F]{40}$/;
  app.market = fromUrl && pattern.test(fromUrl) ? fromUrl : app.config.market;
  if (app.kind === "aptos" && app.market) app.config.chain.module = aptosAddress(app.market);
  show("market", app.market || "unknown: open the page as /app?market=0x...");
  $("connect").onclick = connect;
  $("place").onclick = placeOrder;
  $("fetch-confirm").onclick = fetchAndConfirm;
  $("cancel").onclick = cancelOrder;
  $("withdraw").onclick = withdrawCredits;
  $("raise").onclick = raisePayment;
  $("settle").onclick = settleOrder;
  $("follow").onclick = followFromForm;
  document.body.dataset.ready = "1";
}
start().catch((err) => show("wallet-error", err.message || String(err)));
