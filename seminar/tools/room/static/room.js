// What both pages share: the key from the address, polling the room's JSON, building elements.
// Every piece of data goes into the page as text (textContent), never as HTML.
"use strict";

const Room = (function () {
  const key = new URLSearchParams(window.location.hash.slice(1)).get("key") || "";

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function ago(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return seconds + " s";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min";
    const hours = Math.floor(minutes / 60);
    return hours + " h " + String(minutes % 60).padStart(2, "0");
  }

  function problem(text) {
    const node = document.getElementById("problem");
    node.textContent = text || "";
    node.hidden = !text;
  }

  function status(text, bad) {
    const node = document.getElementById("status");
    node.textContent = text;
    node.classList.toggle("bad", Boolean(bad));
  }

  // Fetch `path` every `every` milliseconds with the key; `render(data, skew)` where skew is the
  // server's clock minus this one's, so that "time since" is right even when the clocks differ.
  function poll(path, render, every) {
    if (!key) {
      problem("This page needs its key: open the address that `python -m seminar room` printed " +
              "(it ends with #key=...).");
      status("no key", true);
      return;
    }
    async function once() {
      try {
        const response = await fetch(path, {headers: {"Authorization": "Bearer " + key},
                                            cache: "no-store"});
        const data = await response.json();
        if (!response.ok) {
          problem(data.error || ("the room answered " + response.status));
          status("refused", true);
        } else {
          problem("");
          render(data, data.now - Date.now() / 1000);
          status("updated " + new Date().toLocaleTimeString());
        }
      } catch (error) {
        status("the room does not answer: is `python -m seminar room` still running?", true);
      }
      window.setTimeout(once, every);
    }
    once();
  }

  return {key: key, el: el, ago: ago, poll: poll};
})();
