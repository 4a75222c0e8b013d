// agihub wallet page: plain ES2020, no bundler. The page builds calldata for the market contract and
// hands it to the browser wallet (EIP-1193); the wallet signs. No key ever reaches the page or the API.
"use strict";

const $ = (id) => document.getElementById(id);
const WEI = 10n ** 18n;
const SEGMENT = 1024 * 1024; // agihub.storage.crypto.ORDER_SEGMENT_SIZE
const OVERHEAD = 12 + 16; // AES-GCM nonce + tag per segment

const app = { config: null, account: null, chain: null, market: null, models: [], relays: [],
              orderId: null, order: null, source: null, sealed: null };

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

// ---- wallet ------------------------------------------------------------------------------------------
function wallet() {
  if (!window.ethereum) throw new Refused("no browser wallet found (window.ethereum): install one and reload");
  return window.ethereum;
}
const rpc = (method, params = []) => wallet().request({ method, params });

async function connect() {
  show("wallet-error", "");
  try {
    const [account] = await rpc("eth_requestAccounts");
    const chainId = BigInt(await rpc("eth_chainId"));
    app.account = account;
    app.chain = `evm:${chainId}`;
    show("account", account);
    show("chain", app.chain);
    await loadCatalogue();
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

function formatEth(wei) {
  const v = BigInt(wei);
  const frac = (v % WEI).toString().padStart(18, "0").replace(/0+$/, "");
  return `${v / WEI}${frac ? "." + frac : ""} ETH`;
}

// An offer's price is per GiB delivered, in the chain's smallest unit (kind 31338 `price` tag).
const priceText = (price) => (price === null || price === undefined ? "no price" : `${price} wei/GiB`);

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
function parseEth(text, field) {
  const m = String(text).trim().match(/^(\d+)(?:\.(\d{0,18}))?$/);
  if (!m) throw new Refused(`${field}: "${text}" is not an amount in ETH (up to 18 decimals)`);
  return BigInt(m[1]) * WEI + BigInt((m[2] || "").padEnd(18, "0"));
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
  const max = BigInt(app.config.amount_max);
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

// ---- live progress ----------------------------------------------------------------------------------
async function refreshOrder() {
  app.order = await api(`/orders/${app.chain}/${app.orderId}`);
  const state = app.order.state_name.toUpperCase();
  show("order-state", state);
  $("order-state").dataset.state = state;
  $("fetch-confirm").disabled = state !== "TAKEN";
  $("cancel").disabled = state !== "OPEN";
  $("raise").disabled = state !== "OPEN" && state !== "TAKEN";
  if (state === "COMPLETED") await showReveal();
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
    await send(encodeCancel(app.orderId));
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
    await send(encodeRaise(app.orderId, down, cost, tip), down + cost + tip);
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
    const receipt = await send(app.config.selectors.withdraw);
    show("progress-status", `withdrew your credits (tx ${receipt.transactionHash})`);
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
async function start() {
  app.config = await api("/app/config.json");
  const fromUrl = new URLSearchParams(location.search).get("market");
  app.market = fromUrl && /^0x[0-9a-fA-F]{40}$/.test(fromUrl) ? fromUrl : app.config.market;
  show("market", app.market || "unknown: open the page as /app?market=0x...");
  $("connect").onclick = connect;
  $("place").onclick = placeOrder;
  $("fetch-confirm").onclick = fetchAndConfirm;
  $("cancel").onclick = cancelOrder;
  $("withdraw").onclick = withdrawCredits;
  $("raise").onclick = raisePayment;
  document.body.dataset.ready = "1";
}
start().catch((err) => show("wallet-error", err.message || String(err)));
