// The dev outbox, kept fresh by polling /dev/outbox.json (never a page reload: focus stays put).
// New messages are added on top; cards already shown are left alone, so an open <details> or an
// email iframe does not flicker. Text goes in with textContent, email HTML in a sandboxed iframe.
"use strict";
const DevOutbox = (() => {
  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function card(message, headingLevel) {
    const article = element("article", {
      class: "message",
      "data-id": message.id,
      "data-verification-id": message.verification_id || "",
      "aria-labelledby": "message-" + message.id,
    });
    const isEmail = message.channel === "email";
    const title = (isEmail ? "Email" : "SMS") + " to " + message.to;
    article.append(element("h" + headingLevel, { id: "message-" + message.id }, title));
    const meta = element("p", { class: "meta" });
    const sentAt = message.sent_at || "";
    meta.append(
      element("time", { datetime: sentAt }, sentAt.slice(11, 19) + " UTC"),
      " · verification ",
      element("code", {}, message.verification_id || ""),
    );
    article.append(meta);
    if (isEmail) {
      const subject = element("p", { class: "email-subject" }, "Subject: ");
      subject.append(element("strong", {}, message.subject || ""));
      const frame = element("iframe", {
        class: "email-body",
        sandbox: "",
        title: "Email body: " + (message.subject || ""),
      });
      frame.srcdoc = message.html || "";
      const details = element("details");
      details.append(element("summary", {}, "Plain-text part"), element("pre", {}, message.text));
      article.append(subject, frame, details);
    } else {
      article.append(element("p", { class: "sms-text" }, message.text));
    }
    return article;
  }

  // Show `messages` (newest first) in `list`: add the new ones on top, drop the ones trimmed away.
  function show(list, messages, headingLevel) {
    const known = new Set(Array.from(list.children, (node) => node.dataset.id));
    const fresh = [];
    for (const message of messages) {
      if (known.has(message.id)) break;
      fresh.push(message);
    }
    for (const message of fresh.slice().reverse()) list.prepend(card(message, headingLevel));
    const kept = new Set(messages.map((message) => message.id));
    for (const node of Array.from(list.children)) {
      if (!kept.has(node.dataset.id)) node.remove();
    }
    return fresh;
  }

  // Poll forever; `onNew(messages)` hears of each batch of new messages. Returns `refresh()`.
  function start(root, options) {
    const list = root.querySelector(".messages");
    const empty = root.querySelector("[data-empty]");
    const status = root.querySelector("[data-status]");
    const announce = root.querySelector("[data-announce]");
    const headingLevel = options.headingLevel || 2;
    let busy = false;
    let again = false;  // asked to refresh while a refresh was under way
    let first = true;  // what the page showed when it loaded is not news

    async function refresh() {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        const response = await fetch("/dev/outbox.json", { headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error("HTTP " + response.status);
        const { messages } = await response.json();
        const fresh = show(list, messages, headingLevel);
        empty.hidden = messages.length > 0;
        status.textContent = "Last checked at " + new Date().toISOString().slice(11, 19) + " UTC.";
        if (fresh.length && !first) {
          const what = fresh.length === 1 ? "1 new message" : fresh.length + " new messages";
          announce.textContent = what + " in the outbox, newest: " + fresh[0].channel.toUpperCase()
            + " to " + fresh[0].to + ".";
          if (options.onNew) options.onNew(fresh);
        }
        first = false;
      } catch (error) {
        status.textContent = "The outbox could not be read (" + error.message
          + "). Is the server still running? Trying again.";
      } finally {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      }
    }

    setInterval(() => { if (!document.hidden) refresh(); }, options.intervalMs);
    refresh();
    return refresh;
  }

  return { start };
})();
