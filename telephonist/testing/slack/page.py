"""A page to be a Slack user by hand: see a channel of the stand-in and post in it.

``add_page(slack)`` (before ``start``) serves at ``/``:

* ``GET /``: the page (no outside assets): a name, a channel, a line to post, and the
  channel's messages, the bot's among them, refreshed every second;
* ``GET /page/channels``: the workspace's channels;
* ``GET /page/messages?channel=<name>``: the channel's last 100 messages as JSON;
* ``POST /page/say`` with ``{"user", "channel", "text"}``: the user (made on first use)
  says ``text`` there: a ``message`` event pushed over Socket Mode, as Slack would.

It is for offline development (the multichat example's ``MULTICHAT_SLACK`` without
tokens), not a Slack client: one workspace, no threads or reactions from the page.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .driver import SlackStandIn

__all__ = ["add_page"]

_MAX_TEXT = 4000
_MAX_NAME = 30


def add_page(slack: SlackStandIn) -> None:
    def install(app: web.Application) -> None:
        app.router.add_get("/", _page)
        app.router.add_get("/page/channels", lambda request: _channels(slack))
        app.router.add_get("/page/messages", lambda request: _messages(slack, request))
        app.router.add_post("/page/say", lambda request: _say(slack, request))

    slack.add_routes(install)


async def _page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def _channels(slack: SlackStandIn) -> web.Response:
    names = sorted(c.name for c in slack.team.channels.values() if not c.is_im)
    return web.json_response(names)


def _channel(slack: SlackStandIn, name: str) -> Any:
    for channel in slack.team.channels.values():
        if channel.name == name.lstrip("#") and not channel.is_im:
            return channel
    return None


async def _messages(slack: SlackStandIn, request: web.Request) -> web.Response:
    channel = _channel(slack, request.query.get("channel", ""))
    if channel is None:
        return web.json_response({"error": "no such channel"}, status=404)
    users = slack.team.users
    found = [m for (c, _), m in slack.state.messages.items() if c == channel.id]
    found.sort(key=lambda m: float(m.ts))
    out = [{"user": users[m.user].name if m.user in users else (m.user or "?"),
            "text": m.text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"),
            "ts": m.ts, "bot": m.bot_id is not None} for m in found[-100:]]  # fmt: skip
    return web.json_response(out)


async def _say(slack: SlackStandIn, request: web.Request) -> web.Response:
    try:
        body = json.loads(await request.content.read(16 * 1024))
        name, where, text = str(body["user"]).strip(), str(body["channel"]), str(body["text"])
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": "give user, channel and text"}, status=400)
    channel = _channel(slack, where)
    if not name or len(name) > _MAX_NAME or not text.strip() or len(text) > _MAX_TEXT:
        return web.json_response({"error": "a name and a line, please"}, status=400)
    if channel is None:
        return web.json_response({"error": "no such channel"}, status=404)
    user = next((u for u in slack.team.users.values() if u.name == name), None)
    if user is None:
        user = slack.add_user(name)
    slack.message(text, user, channel)
    return web.json_response({"ok": True})


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Slack stand-in</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 0; background: #f8f8fa; color: #1d1c1d; }
header { background: #3f0e40; color: #fff; padding: .6em 1em; }
main { max-width: 46em; margin: 0 auto; padding: 1em; }
#log { list-style: none; padding: 0; background: #fff; border: 1px solid #ddd;
       min-height: 12em; max-height: 60vh; overflow-y: auto; overflow-wrap: anywhere; }
#log li { padding: .3em .8em; white-space: pre-wrap; }
#log .who { font-weight: 700; margin-right: .4em; }
#log .bot .who::after { content: " APP"; font-size: .7em; background: #ddd; padding: 0 .3em; }
form { display: flex; gap: .5em; flex-wrap: wrap; margin-top: .6em; }
input { font: inherit; padding: .3em; } #text { flex: 1; min-width: 12em; }
</style></head>
<body><header>Slack stand-in: you are a Slack user here</header>
<main>
<p><label>Channel <select id="channel" aria-label="Channel"></select></label>
   <label>Your name <input id="user" value="sam" maxlength="30"></label></p>
<ul id="log" aria-live="polite" aria-label="Messages"></ul>
<form id="say"><input id="text" aria-label="Message" maxlength="4000"
 placeholder="Message the channel"><button>Send</button></form>
<p id="error" role="alert"></p>
</main>
<script>
const $ = id => document.getElementById(id);
async function channels() {
  const names = await (await fetch('/page/channels')).json();
  $('channel').replaceChildren(...names.map(n => new Option('#' + n, n)));
}
async function refresh() {
  if (!$('channel').value) return;
  const r = await fetch('/page/messages?channel=' + encodeURIComponent($('channel').value));
  if (!r.ok) return;
  const items = (await r.json()).map(m => {
    const li = document.createElement('li');
    li.className = m.bot ? 'bot' : '';
    const who = document.createElement('span'); who.className = 'who'; who.textContent = m.user;
    li.append(who, document.createTextNode(m.text));
    return li;
  });
  const log = $('log'), bottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.replaceChildren(...items);
  if (bottom) log.scrollTop = log.scrollHeight;
}
$('say').addEventListener('submit', async e => {
  e.preventDefault();
  const text = $('text').value;
  if (!text.trim()) return;
  const r = await fetch('/page/say', {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({user: $('user').value, channel: $('channel').value, text})});
  $('error').textContent = r.ok ? '' : (await r.json()).error;
  if (r.ok) { $('text').value = ''; refresh(); }
});
$('channel').addEventListener('change', refresh);
channels().then(refresh);
setInterval(refresh, 1000);
</script></body></html>
"""
