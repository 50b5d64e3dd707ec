// The room page: the chat JSON protocol (docs/websocket.md, "Chat") over one WebSocket,
// reconnecting on its own. Everything people typed is shown with textContent, never as
// HTML. The server's limits come in its hello frame; the page enforces the same ones.
(function () {
  "use strict";

  const script = document.currentScript;
  const room = script.dataset.room;
  const MAX_NAME = Number(script.dataset.maxName) || 30;
  const MAX_SHOWN = 500; // messages kept in the page; older ones are dropped
  const LONG_CHARS = 900; // longer messages are collapsed until opened
  const LONG_LINES = 10;
  const REACTIONS = ["👍", "❤️", "😂", "🎉", "👀", "🙏"];
  const LABELS = { websocket: "web", irc: "IRC", email: "mail", slack: "Slack", linechat: "linechat" };
  const PROTOCOL_NAMES = { websocket: "the web", irc: "IRC", email: "mail", slack: "Slack" };

  const $ = (id) => document.getElementById(id);
  const log = $("log");
  const text = $("composer-text");

  let maxText = Number(script.dataset.maxText) || 4000;
  let name = (localStorage.getItem("multichat.name") || "").slice(0, MAX_NAME);
  let myId = "";
  let socket = null;
  let opened = false;
  let attempt = 0;
  let retryTimer = null;
  let restarting = false; // the server said so: say it until it is back
  let countdown = null;
  let replyTo = null; // message_id answered by the next message
  let editing = null; // message_id being edited
  let unread = 0;
  let lastDay = ""; // the day of the last line shown, for the separators
  const messages = new Map(); // message_id -> {data, el}
  const pending = new Map(); // nonce -> text, until acknowledged
  let nonce = 0;

  // -- helpers ------------------------------------------------------------------------

  function el(tag, cls, content) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (content !== undefined) node.textContent = content;
    return node;
  }

  function badge(protocol) {
    const b = el("span", "badge badge-" + protocol, LABELS[protocol] || protocol);
    b.title = "via " + (PROTOCOL_NAMES[protocol] || protocol);
    return b;
  }

  function excerpt(s, n) {
    const flat = s.replace(/\s+/g, " ").trim();
    return flat.length > n ? flat.slice(0, n - 1) + "…" : flat;
  }

  function day(ts) {
    const d = new Date(ts * 1000);
    const today = new Date();
    const yesterday = new Date(today.getTime() - 86400000);
    if (d.toDateString() === today.toDateString()) return "Today";
    if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
    return d.toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long" });
  }

  function isMine(m) {
    return (myId && m.user_id === myId) || (m.protocol === "websocket" && m.user === name);
  }

  // -- status and reconnecting ----------------------------------------------------------

  function status(sentence, tone) {
    $("status-text").textContent = sentence;
    $("status").dataset.tone = tone;
  }

  function why(code, wasOpen) {
    if (!navigator.onLine) return "You are offline.";
    switch (code) {
      case 1001: return "The server is restarting.";
      case 1008: case 1003: return "The server refused this room.";
      case 1009: return "A message was too large for the server.";
      case 1011: return "The server ran into a problem.";
      case 1013: return "The server is busy right now.";
      case 1000: return "The server closed the connection.";
      default: return wasOpen ? "The connection was lost." : "The server cannot be reached.";
    }
  }

  function scheduleReconnect(sentence) {
    clearTimeout(retryTimer);
    clearInterval(countdown);
    const seconds = Math.round(Math.min(30, 2 ** attempt) * (0.75 + Math.random() * 0.5));
    attempt += 1;
    let left = Math.max(1, seconds);
    const show = () => status(`${sentence} Reconnecting in ${left} s.`, "warn");
    show();
    countdown = setInterval(() => { left = Math.max(0, left - 1); show(); }, 1000);
    retryTimer = setTimeout(connect, left * 1000);
    $("retry").hidden = false;
  }

  function reconnectNow() {
    clearTimeout(retryTimer);
    clearInterval(countdown);
    connect();
  }

  // -- the connection -------------------------------------------------------------------

  function connect() {
    clearInterval(countdown);
    $("retry").hidden = true;
    if (!name) { askName(); return; }
    if (socket) { socket.onclose = null; socket.close(); }
    status(attempt ? "Reconnecting…" : "Connecting…", "busy");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/chat/${encodeURIComponent(room)}/?name=${encodeURIComponent(name)}`;
    opened = false;
    socket = new WebSocket(url, ["telephonist.chat.v2"]);
    socket.onopen = () => { opened = true; };
    socket.onmessage = (event) => receive(JSON.parse(event.data));
    socket.onclose = (event) => {
      socket = null;
      $("composer").classList.add("offline");
      if (event.code === 1001) restarting = true;
      scheduleReconnect(restarting && !opened ? why(1001, false) : why(event.code, opened));
    };
  }

  function send(frame) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return null;
    nonce += 1;
    const id = String(nonce);
    socket.send(JSON.stringify({ ...frame, nonce: id }));
    return id;
  }

  function receive(frame) {
    switch (frame.type) {
      case "hello":
        myId = frame.user_id;
        maxText = frame.max_text;
        text.maxLength = maxText;
        attempt = 0;
        restarting = false;
        $("composer").classList.remove("offline");
        status("Connected", "ok");
        showComposer();
        break;
      case "ack":
        pending.delete(frame.nonce);
        break;
      case "error":
        if (pending.has(frame.nonce) && !text.value) text.value = pending.get(frame.nonce);
        pending.delete(frame.nonce);
        composerError(frame.text);
        break;
      case "event":
        event(frame);
        break;
      case "state":
        state(frame);
        break;
    }
  }

  // -- the room's state: members, topic, history ---------------------------------------

  function state(frame) {
    if (frame.history) {
      // The room's history, whole: replace what is shown (a re-join repeats nothing).
      log.replaceChildren();
      messages.clear();
      lastDay = "";
      frame.history.forEach((m) => add(m, true));
      scrollToEnd();
    }
    members(frame.members || []);
    const topic = $("topic");
    topic.hidden = !frame.topic;
    topic.textContent = frame.topic ? "Topic: " + frame.topic : "";
    if (frame.links) links(frame.links);
    const change = frame.change;
    if (change && change.user && !(change.protocol === "websocket" && change.user === name)) {
      const what = change.topic !== undefined
        ? `${change.user} set the topic: ${change.topic}`
        : `${change.user} ${change.joined ? "joined" : "left"}`;
      system(what, change.protocol);
    }
  }

  function links(list) {
    const holder = $("links");
    holder.replaceChildren();
    list.filter((l) => l.protocol !== "email").forEach((l) => {
      holder.append(" ", badge(l.protocol), " ", el("code", "", l.room));
    });
    $("elsewhere").hidden = !$("elsewhere").textContent.replace("Also here:", "").trim();
  }

  function members(list) {
    const ul = $("members");
    ul.replaceChildren();
    list.forEach((m) => {
      const li = el("li", "member");
      li.append(el("span", "member-name", m.user), " ", badge(m.protocol));
      if (m.protocol === "websocket" && m.user === name) {
        li.classList.add("own");
        li.append(" ", el("span", "you", "(you)"));
      }
      ul.append(li);
    });
    $("member-count").textContent = `(${list.length})`;
  }

  function system(sentence, protocol) {
    const li = el("li", "system");
    separate(Date.now() / 1000);
    li.append(el("time", "", new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })), " ");
    if (protocol) li.append(badge(protocol), " ");
    li.append(el("span", "", sentence));
    append(li);
  }

  // -- messages -------------------------------------------------------------------------

  function event(frame) {
    const target = frame.kind === "reaction" ? frame.reply_to : frame.message_id;
    const known = target ? messages.get(target) : null;
    if (frame.kind === "edit") {
      if (known) { known.data.text = frame.text; known.data.edited = true; render(known); }
      else system(`${frame.user} edited a message: ${frame.text}`, frame.protocol);
    } else if (frame.kind === "delete") {
      if (known) { known.data.deleted = true; known.data.text = ""; render(known); }
    } else if (frame.kind === "reaction") {
      if (!known) { system(`${frame.user} reacted ${frame.emoji}`, frame.protocol); return; }
      const who = known.data.reactions[frame.emoji] || [];
      const rest = who.filter((u) => u !== frame.user);
      if (!frame.removed) rest.push(frame.user);
      if (rest.length) known.data.reactions[frame.emoji] = rest;
      else delete known.data.reactions[frame.emoji];
      render(known);
    } else {
      add({ ...frame, reactions: {}, edited: false, deleted: false }, false);
    }
  }

  function add(m, fromHistory) {
    if (!m.message_id) m.message_id = "local-" + Math.random().toString(36).slice(2);
    const found = messages.get(m.message_id);
    if (found) { found.data = m; render(found); return; } // no duplicates, ever
    const item = { data: m, el: el("li") };
    messages.set(m.message_id, item);
    separate(m.timestamp || Date.now() / 1000, fromHistory);
    append(item.el, fromHistory);
    render(item); // in place: it can tell whether it continues the line before
    if (!fromHistory && document.hidden && !isMine(m)) {
      unread += 1;
      document.title = `(${unread}) #${room} · multichat`;
    }
  }

  function separate(ts, quiet) {
    const thisDay = day(ts);
    if (thisDay === lastDay) return;
    lastDay = thisDay;
    const sep = el("li", "day", thisDay);
    sep.setAttribute("role", "separator");
    append(sep, quiet);
  }

  function append(node, quiet) {
    const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    log.append(node);
    while (messages.size > MAX_SHOWN) { // bounded: drop the oldest
      const [oldest, item] = messages.entries().next().value;
      item.el.remove();
      messages.delete(oldest);
    }
    while (log.childElementCount > MAX_SHOWN * 2 && log.firstElementChild) {
      log.firstElementChild.remove();
    }
    if (quiet || atEnd) scrollToEnd();
    else $("jump").hidden = false;
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
    $("jump").hidden = true;
  }

  function render(item) {
    const m = item.data;
    const li = item.el;
    li.replaceChildren();
    li.id = "m-" + m.message_id.replace(/[^\w-]/g, "_");
    li.className = "msg kind-" + (m.kind || "message");
    li.tabIndex = -1; // a tap or click selects it, showing its actions
    if (isMine(m)) li.classList.add("own");
    if (continues(item)) li.classList.add("cont");
    if (m.deleted) li.classList.add("deleted");

    const meta = el("div", "meta");
    const stamp = new Date((m.timestamp || Date.now() / 1000) * 1000);
    const time = el("time", "", stamp.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    time.dateTime = stamp.toISOString();
    time.title = stamp.toLocaleString();
    meta.append(el("span", "author", m.user), " ", badge(m.protocol));
    if (isMine(m)) meta.append(" ", el("span", "you", "(you)"));
    meta.append(" ", time);
    if (m.edited && !m.deleted) meta.append(" ", el("span", "edited", "(edited)"));
    li.append(meta);

    if (m.reply_to) {
      const parent = messages.get(m.reply_to);
      const quote = el("a", "quote");
      quote.href = "#m-" + m.reply_to.replace(/[^\w-]/g, "_");
      quote.textContent = parent
        ? `↪ ${parent.data.user}: ${excerpt(parent.data.text || "(deleted)", 80)}`
        : "↪ an earlier message";
      li.append(quote);
    }

    const body = el("div", "text");
    if (m.deleted) body.textContent = "This message was deleted.";
    else if (m.kind === "action") body.textContent = `* ${m.user} ${m.text}`;
    else body.textContent = m.text;
    li.append(body);
    const lines = (m.text || "").split("\n").length;
    if (!m.deleted && (m.text.length > LONG_CHARS || lines > LONG_LINES)) {
      li.classList.add("long", "collapsed");
      const size = `${lines} ${lines === 1 ? "line" : "lines"}, ${m.text.length} characters`;
      const more = el("button", "more link", `Show all (${size})`);
      more.type = "button";
      more.setAttribute("aria-expanded", "false");
      more.addEventListener("click", () => {
        const open = li.classList.toggle("collapsed") === false;
        more.setAttribute("aria-expanded", String(open));
        more.textContent = open ? "Show less" : `Show all (${size})`;
      });
      li.append(more);
    }

    const reactions = Object.entries(m.reactions || {});
    if (reactions.length) {
      const ul = el("ul", "reactions");
      ul.setAttribute("aria-label", "Reactions");
      reactions.forEach(([emoji, who]) => {
        const b = el("button", "reaction", `${emoji} ${who.length}`);
        b.type = "button";
        b.title = who.join(", ");
        b.setAttribute("aria-label", `${emoji} from ${who.join(", ")}`);
        b.setAttribute("aria-pressed", String(who.includes(name)));
        b.addEventListener("click", () => react(m, emoji));
        const item = el("li");
        item.append(b);
        ul.append(item);
      });
      li.append(ul);
    }
    if (!m.deleted && m.kind !== "notice") li.append(actions(m));
  }

  function continues(item) {
    // Lines of one author in a row (within 5 minutes) show the name once.
    const prev = item.el.previousElementSibling;
    if (!prev || !prev.classList.contains("msg") || item.data.reply_to) return false;
    const before = [...messages.values()].find((i) => i.el === prev);
    return Boolean(before) && before.data.user === item.data.user
      && before.data.protocol === item.data.protocol
      && (item.data.timestamp || 0) - (before.data.timestamp || 0) < 300
      && !before.data.deleted;
  }

  function actions(m) {
    const bar = el("div", "actions");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", `Actions on ${m.user}'s message`);
    const button = (label, title, onClick) => {
      const b = el("button", "act", label);
      b.type = "button";
      b.title = title;
      b.setAttribute("aria-label", title);
      b.addEventListener("click", onClick);
      bar.append(b);
      return b;
    };
    button("↪", "Reply", () => startReply(m));
    const picker = el("div", "picker");
    picker.hidden = true;
    REACTIONS.forEach((emoji) => {
      const b = el("button", "pick", emoji);
      b.type = "button";
      b.setAttribute("aria-label", `React with ${emoji}`);
      b.addEventListener("click", () => { picker.hidden = true; react(m, emoji); });
      picker.append(b);
    });
    const open = button("☺", "React", () => {
      picker.hidden = !picker.hidden;
      open.setAttribute("aria-expanded", String(!picker.hidden));
      if (!picker.hidden) picker.firstElementChild.focus();
    });
    open.setAttribute("aria-expanded", "false");
    picker.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { picker.hidden = true; open.focus(); }
    });
    bar.append(picker);
    if (myId && m.user_id === myId) {
      button("✎", "Edit", () => startEdit(m));
      button("✕", "Delete", () => {
        if (confirm("Delete this message for everyone?")) send({ kind: "delete", message_id: m.message_id });
      });
    }
    return bar;
  }

  function react(m, emoji) {
    const who = (m.reactions || {})[emoji] || [];
    send({ kind: "reaction", emoji, reply_to: m.message_id, removed: who.includes(name) });
  }

  // -- the composer ---------------------------------------------------------------------

  function showComposer() {
    $("who").hidden = true;
    $("composer").hidden = false;
    $("me").hidden = false;
    $("rename").hidden = false;
    $("me-name").textContent = name;
    count();
  }

  function askName() {
    $("composer").hidden = true;
    $("who").hidden = false;
    $("name").value = name;
    $("name").focus();
    status("Pick a name to join the room.", "idle");
  }

  function composerError(sentence) {
    const p = $("composer-error");
    p.textContent = sentence;
    p.hidden = !sentence;
  }

  function count() {
    const n = text.value.length;
    const c = $("composer-count");
    c.textContent = `${n} / ${maxText}`;
    c.classList.toggle("near", n > maxText * 0.9);
    text.style.height = "auto";
    text.style.height = Math.min(text.scrollHeight, 200) + "px";
  }

  function startReply(m) {
    editing = null;
    replyTo = m.message_id;
    $("replying").hidden = false;
    $("replying-text").textContent = `Replying to ${m.user}: ${excerpt(m.text, 60)}`;
    text.focus();
  }

  function startEdit(m) {
    replyTo = null;
    editing = m.message_id;
    $("replying").hidden = false;
    $("replying-text").textContent = "Editing your message";
    text.value = m.text;
    count();
    text.focus();
  }

  function cancel() {
    replyTo = null;
    editing = null;
    $("replying").hidden = true;
  }

  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = text.value;
    if (!value.trim()) return;
    if (value.length > maxText) {
      composerError(`That message is too long: at most ${maxText} characters are allowed.`);
      return;
    }
    const frame = editing
      ? { kind: "edit", message_id: editing, text: value }
      : { kind: value.startsWith("/me ") ? "action" : "message",
          text: value.startsWith("/me ") ? value.slice(4) : value,
          ...(replyTo ? { reply_to: replyTo } : {}) };
    const id = send(frame);
    if (id === null) { composerError("Not connected: your message is still here, send it once reconnected."); return; }
    pending.set(id, value);
    text.value = "";
    composerError("");
    cancel();
    count();
  });

  text.addEventListener("input", count);
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("composer").requestSubmit();
    } else if (e.key === "Escape") {
      cancel();
    } else if (e.key === "ArrowUp" && !text.value) {
      const mine = [...messages.values()].reverse().find((i) => myId && i.data.user_id === myId && !i.data.deleted);
      if (mine) { e.preventDefault(); startEdit(mine.data); }
    }
  });
  $("cancel-reply").addEventListener("click", () => { cancel(); text.focus(); });

  $("who").addEventListener("submit", (e) => {
    e.preventDefault();
    const chosen = $("name").value.replace(/\s+/g, " ").trim().slice(0, MAX_NAME);
    if (!chosen) return;
    name = chosen;
    localStorage.setItem("multichat.name", name);
    attempt = 0;
    connect();
  });
  $("rename").addEventListener("click", () => {
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    askName();
  });
  $("retry").addEventListener("click", reconnectNow);
  $("jump").addEventListener("click", scrollToEnd);
  log.addEventListener("click", (e) => {
    const li = e.target.closest("li.msg");
    if (li && !e.target.closest("button, a")) li.focus();
  });
  log.addEventListener("scroll", () => {
    if (log.scrollHeight - log.scrollTop - log.clientHeight < 60) $("jump").hidden = true;
  });
  $("new-room").addEventListener("submit", (e) => {
    e.preventDefault();
    const field = $("new-room-name");
    field.value = field.value.trim().toLowerCase();
    if (field.checkValidity()) location.href = `/chat/${encodeURIComponent(field.value)}/`;
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) { unread = 0; document.title = `#${room} · multichat`; }
  });
  window.addEventListener("online", () => { if (!socket) reconnectNow(); });
  window.addEventListener("offline", () => status("You are offline. Reconnecting when the network is back.", "warn"));

  $("name").maxLength = MAX_NAME;
  text.maxLength = maxText;
  connect();
})();
