// The room page: pick a name, join over WebSocket, show the history and every line.
(function () {
  "use strict";
  const room = document.currentScript.dataset.room;
  const $ = (id) => document.getElementById(id);
  let socket = null;

  function show(line) {
    const item = document.createElement("li");
    item.textContent = line;
    $("log").appendChild(item);
    item.scrollIntoView();
  }

  $("name").value = localStorage.getItem("multichat.name") || "";
  $("who").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("name").value.trim();
    localStorage.setItem("multichat.name", name);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/chat/${encodeURIComponent(room)}/?name=${encodeURIComponent(name)}`;
    socket = new WebSocket(url);
    socket.onopen = () => {
      $("status").textContent = `connected as ${name}`;
      $("who").hidden = true;
      $("say").hidden = false;
      $("text").focus();
    };
    socket.onmessage = (message) => show(message.data);
    socket.onclose = (close) => {
      $("status").textContent = `disconnected (${close.code})`;
      $("who").hidden = false;
      $("say").hidden = true;
    };
  });
  $("say").addEventListener("submit", (event) => {
    event.preventDefault();
    if (socket && socket.readyState === WebSocket.OPEN && $("text").value.trim()) {
      socket.send($("text").value);
      $("text").value = "";
    }
  });
})();
