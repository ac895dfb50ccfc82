// The try-it page: calls the real /v1 API with the key in the form and explains each answer.
const TryPage = (() => {
  const $ = (id) => document.getElementById(id);
  const CHANNELS = {
    sms: { label: "Phone number", type: "tel", autocomplete: "tel", placeholder: "+14155550100",
           hint: "With + and the country code, like +14155550100.", name: "SMS" },
    email: { label: "Email address", type: "email", autocomplete: "email",
             placeholder: "alice@example.com", hint: "Any address: nothing is really sent.",
             name: "email" },
    whatsapp: { label: "Phone number", type: "tel", autocomplete: "tel",
                placeholder: "+14155550100", hint: "A mobile number with WhatsApp.",
                name: "WhatsApp" },
    voice: { label: "Phone number", type: "tel", autocomplete: "tel", placeholder: "+14155550100",
             hint: "Any phone, landlines too: the code is read out.", name: "voice call" },
  };
  const FIELDS = { to: "Phone number or email", code: "Code", channel: "Channel" };
  const STATUS_WORDS = {
    pending: "waiting for the right code",
    approved: "the code was right; the verification is used up",
    max_attempts_reached: "locked: every check was used",
    expired: "the code is too old now",
    canceled: "canceled",
    failed: "the code could not be delivered",
    gone: "approved, canceled or expired: nothing to check",
  };

  const minutes = (seconds) => Math.max(1, Math.ceil(seconds / 60));
  const plural = (n, one, many) => n + " " + (n === 1 ? one : many);
  // Friendly sentences per problem type (the API's own title and detail are shown under them).
  const EXPLAIN = {
    "unauthorized": () => "The API key was not accepted. Use the key otp-service dev printed: "
      + "it changes every time the server starts.",
    "forbidden": () => "This API key may not do that: it lacks the scope for it.",
    "channel-not-allowed": () => "This channel is not enabled for this key or this server.",
    "country-not-allowed": () => "SMS to this country is not allowed by the configuration.",
    "validation-error": () => "Something you typed is not valid:",
    "invalid-destination": () => "This phone number or email address cannot receive codes.",
    "verification-not-found": () => "This verification is gone: it was already approved, "
      + "canceled, or it expired. Send a new code to start again.",
    "max-attempts-reached": (p) => "Too many wrong codes: this verification is locked. A new code "
      + "for this destination can be sent once it expires, in about " + minutes(p.retry_after)
      + " min. Use another phone number or email meanwhile.",
    "resend-too-soon": (p) => "Too soon for a new code: wait " + p.retry_after
      + " seconds, then press “Send a new code” again. The code you have still works.",
    "max-sends-reached": (p) => "No more codes can be sent for this verification. It expires in "
      + "about " + minutes(p.retry_after) + " min; use the code you have, or another destination.",
    "rate-limited": (p) => "Too many requests: wait " + p.retry_after + " seconds and try again.",
    "delivery-failed": () => "The code could not be delivered.",
    "store-unavailable": () => "The service cannot reach Redis right now; nothing was approved. "
      + "Try again in a few seconds.",
  };

  let current = null;  // the verification on screen, as the API last described it
  let sentTo = null;   // {to, channel} as typed, for "Send a new code"
  const drafts = {};   // what was typed per channel, kept when switching
  let refreshOutbox = () => {};

  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function callApi(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: {
        "Authorization": "Bearer " + $("api-key").value.trim(),
        "Content-Type": "application/json",
        "Accept": "application/json, application/problem+json",
      },
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    return { status: response.status, data };
  }

  // Show one outcome in the live region: a headline, sentences, and what the API itself said.
  function say(kind, headline, sentences, apiLine) {
    const result = $("result");
    result.className = "result " + kind;
    result.replaceChildren(element("p", { class: "headline" }, headline));
    for (const sentence of sentences) {
      result.append(typeof sentence === "string" ? element("p", {}, sentence) : sentence);
    }
    if (apiLine) result.append(element("p", { class: "api" }, apiLine));
  }

  function problemSlug(problem) {
    return String(problem.type || "").split("/").pop();
  }

  function sayProblem(status, problem) {
    const slug = problemSlug(problem);
    const sentences = [(EXPLAIN[slug] || (() => problem.title || "The request failed."))(problem)];
    if (Array.isArray(problem.errors) && problem.errors.length) {
      const list = element("ul");
      for (const item of problem.errors) {
        list.append(element("li", {}, (FIELDS[item.field] || item.field) + ": " + item.message));
      }
      sentences.push(list);
    }
    const said = "The API answered " + status + " " + (problem.title || "") + " ("
      + (problem.type || "no problem type") + ")" + (problem.detail ? ": " + problem.detail : ".");
    say("bad", slug === "max-attempts-reached" ? "Locked" : "Not done", sentences, said);
  }

  function sayNetworkError(error) {
    say("bad", "No answer", ["The service did not answer. Is otp-service dev still running?"],
        String(error));
  }

  function utcTime(iso) {
    return iso ? iso.slice(11, 19) + " UTC" : "";
  }

  function secondsUntil(iso) {
    return Math.ceil((Date.parse(iso) - Date.now()) / 1000);
  }

  function inWords(seconds) {
    if (seconds <= 0) return "now";
    const m = Math.floor(seconds / 60);
    const s = seconds % 60;
    return "in " + (m ? m + " min " : "") + s + " s";
  }

  function setField(name, text) {
    document.querySelector('#verification [data-field="' + name + '"]').textContent = text;
  }

  // Redraw the verification panel; runs every second so the countdowns stay true.
  function render() {
    if (!current) return;
    const left = secondsUntil(current.expires_at);
    const status = current.status === "pending" && left <= 0 ? "expired" : current.status;
    const live = status === "pending" || status === "max_attempts_reached";
    setField("status", status);
    setField("status-words", STATUS_WORDS[status] || "");
    setField("to", current.to + " (" + CHANNELS[current.channel].name + ")");
    setField("expires", live ? utcTime(current.expires_at) + ", " + inWords(left) : "—");
    setField("attempts", String(current.attempts_remaining));
    setField("sends", String(current.sends_remaining));
    let resend = "—";
    if (status === "pending") {
      resend = utcTime(current.resend_available_at) + ", "
        + inWords(secondsUntil(current.resend_available_at));
    } else if (status === "max_attempts_reached") {
      resend = "only after it expires";
    }
    setField("resend", resend);
    setField("id", current.id);
  }

  async function send(to, channel, isResend) {
    let answer;
    try {
      answer = await callApi("/v1/verifications", { to, channel });
    } catch (error) {
      sayNetworkError(error);
      return;
    }
    const { status, data } = answer;
    if (status !== 200 && status !== 201) {
      sayProblem(status, data);
      return;
    }
    current = data;
    sentTo = { to, channel };
    $("verification").hidden = false;
    render();
    refreshOutbox();  // the message is there now: show it without waiting for the next poll
    const where = CHANNELS[channel].name + " to " + data.to;
    if (status === 201) {
      say("ok", "Code sent", ["A new verification was started and its code sent by " + where
        + ". Read it in the dev outbox, then type it in the Code field."],
        "The API answered 201 Created with verification " + data.id + ".");
    } else {
      say("ok", "New code sent", [(isResend ? "" : "A verification for this destination was "
        + "still pending, so it was resent instead of started again. ") + "A new code went by "
        + where + "; the previous code no longer works. "
        + plural(data.sends_remaining, "more send", "more sends") + " possible."], "The API answered 200 OK with the same verification " + data.id + ".");
    }
    $("code").value = "";
    $("code").focus();
  }

  async function check(code) {
    let answer;
    try {
      answer = await callApi("/v1/verifications/" + encodeURIComponent(current.id) + "/check", { code });
    } catch (error) {
      sayNetworkError(error);
      return;
    }
    const { status, data } = answer;
    if (status === 200) {
      current = { ...current, status: data.status, attempts_remaining: data.attempts_remaining };
      render();
      const said = "The API answered 200 OK: status " + data.status + ", valid " + data.valid
        + ", attempts_remaining " + data.attempts_remaining + ".";
      if (data.status === "approved") {
        say("ok", "Approved", ["The code is right: the login may go on. This verification is "
          + "now used up; checking it again answers 404."], said);
      } else if (data.status === "max_attempts_reached") {
        say("bad", "Wrong code, no attempts left", ["That code is not right, and it was the last "
          + "attempt: the verification is now locked."], said);
      } else {
        const left = plural(data.attempts_remaining, "attempt", "attempts");
        say("bad", "Wrong code", ["That code is not right. " + left + " left."], said);
      }
      return;
    }
    if (status === 404) current = { ...current, status: "gone" };
    if (status === 429 && problemSlug(data) === "max-attempts-reached") {
      current = { ...current, status: "max_attempts_reached", attempts_remaining: 0 };
    }
    render();
    sayProblem(status, data);
  }

  function switchChannel(channel, previous) {
    const input = $("to");
    drafts[previous] = input.value;
    const spec = CHANNELS[channel];
    $("to-label").textContent = spec.label;
    $("to-hint").textContent = spec.hint;
    input.type = spec.type;
    input.autocomplete = spec.autocomplete;
    input.placeholder = spec.placeholder;
    input.value = drafts[channel] || "";
  }

  // One request at a time: presses during a request are ignored. (Buttons are not disabled:
  // disabling the focused button would throw keyboard focus back to the top of the page.)
  let inFlight = false;
  async function once(work) {
    if (inFlight) return;
    inFlight = true;
    try { await work(); } finally { inFlight = false; }
  }

  function start(options) {
    const startForm = $("start-form");
    let channel = startForm.elements.channel ? startForm.elements.channel.value : "sms";
    for (const radio of startForm.querySelectorAll('input[name="channel"]')) {
      radio.addEventListener("change", () => { switchChannel(radio.value, channel); channel = radio.value; });
    }
    if (channel !== "sms") switchChannel(channel, "sms");
    startForm.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!$("api-key").value.trim()) {
        say("bad", "API key missing", ["Paste the API key otp-service dev printed first."]);
        $("api-key").focus();
        return;
      }
      once(() => send($("to").value.trim(), channel, false));
    });
    $("check-form").addEventListener("submit", (event) => {
      event.preventDefault();
      once(() => check($("code").value.trim()));
    });
    $("resend").addEventListener("click", () => {
      if (sentTo) once(() => send(sentTo.to, sentTo.channel, true));
    });
    setInterval(render, 1000);
    refreshOutbox = DevOutbox.start($("outbox"), { intervalMs: options.pollIntervalMs, headingLevel: 3 });
  }

  return { start, callApi };
})();
