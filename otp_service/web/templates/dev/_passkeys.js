// The passkeys walk-through of the try-it page: /v1/passkeys (through TryPage.callApi, with the
// key in the form) and the browser's WebAuthn JSON helpers (parse...OptionsFromJSON, toJSON),
// and sign-in from the field's autofill.
const PasskeyWalkthrough = (() => {
  const $ = (id) => document.getElementById(id);
  const REASONS = {
    unknown_credential: "This passkey is not registered here (removed, or another user's).",
    counter_regression: "The passkey's signature counter went backwards: a cloned authenticator?",
    origin_not_allowed: "The page's origin is not one the service allows.",
    invalid_signature: "The signature is not right.",
    challenge_mismatch: "The answer was for another challenge.",
    user_not_verified: "The authenticator did not verify the user.",
  };
  let autofill = null;  // the AbortController of the pending autofill request

  function say(kind, headline, sentence, apiLine) {
    const result = $("passkey-result");
    result.className = "result " + kind;
    const parts = [headline, sentence, apiLine].filter(Boolean);
    result.replaceChildren(...parts.map((text, index) => {
      const p = document.createElement("p");
      if (index === 0) p.className = "headline";
      if (index === 2) p.className = "api";
      p.textContent = text;
      return p;
    }));
  }

  function problem(status, data) {
    say("bad", "Not done", data.detail || data.title || "The request failed.",
        "The API answered " + status + " (" + (data.type || "no problem type") + ").");
  }

  async function register() {
    const subject = $("passkey-subject").value.trim();
    if (!subject) {
      say("bad", "User missing", "Type the user to register a passkey for.");
      $("passkey-subject").focus();
      return;
    }
    stopAutofill();
    try {
      const started = await TryPage.callApi("/v1/passkeys/registrations", { subject });
      if (started.status !== 201) return problem(started.status, started.data);
      const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(started.data.options);
      const credential = await navigator.credentials.create({ publicKey });
      const verified = await TryPage.callApi("/v1/passkeys/registrations/" + started.data.id + "/verify",
                                  { credential: credential.toJSON() });
      if (verified.status !== 201) return problem(verified.status, verified.data);
      say("ok", "Passkey registered", "A passkey for " + verified.data.subject + " is kept as "
          + verified.data.id + " (" + verified.data.device_type + "). Now sign in with it.",
          "The API answered 201 Created.");
    } catch (error) {
      say("bad", "No passkey made", "The browser or the authenticator refused: " + error.message);
    }
  }

  async function finish(started, credential, how) {
    const verified = await TryPage.callApi("/v1/passkeys/authentications/" + started.data.id + "/verify",
                                { credential: credential.toJSON() });
    if (verified.status !== 200) return problem(verified.status, verified.data);
    if (verified.data.valid) {
      say("ok", "Signed in", "Signed in as " + verified.data.subject + how + ", with passkey "
          + verified.data.passkey_id + ".", "The API answered 200 OK: valid true.");
    } else {
      say("bad", "Not signed in", REASONS[verified.data.reason] || verified.data.reason,
          "The API answered 200 OK: valid false, reason " + verified.data.reason + ".");
    }
  }

  async function signIn() {
    const subject = $("passkey-subject").value.trim();
    stopAutofill();
    try {
      const started = await TryPage.callApi("/v1/passkeys/authentications", subject ? { subject } : {});
      if (started.status !== 201) return problem(started.status, started.data);
      const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(started.data.options);
      const credential = await navigator.credentials.get({ publicKey });
      await finish(started, credential, "");
    } catch (error) {
      say("bad", "Not signed in", "The browser or the authenticator refused: " + error.message);
    }
  }

  function stopAutofill() {
    if (autofill) autofill.abort();
    autofill = null;
  }

  // Conditional mediation: the browser offers the user's passkeys in the field's autofill. It is
  // asked for when the empty field gets focus, and ended by any other passkey request.
  async function startAutofill() {
    stopAutofill();
    const controller = new AbortController();
    autofill = controller;
    try {
      if (!$("api-key").value.trim() || !window.PublicKeyCredential
          || !PublicKeyCredential.isConditionalMediationAvailable
          || !(await PublicKeyCredential.isConditionalMediationAvailable())) {
        throw new Error("no autofill of passkeys here");
      }
      const started = await TryPage.callApi("/v1/passkeys/authentications", {});
      if (started.status !== 201 || controller.signal.aborted) throw new Error("not started");
      const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(started.data.options);
      const credential = await navigator.credentials.get(
        { publicKey, mediation: "conditional", signal: controller.signal });
      autofill = null;
      await finish(started, credential, " from autofill");
    } catch (error) {
      if (autofill === controller) autofill = null;  // unavailable, aborted, expired: wait
    }
  }

  function start() {
    $("passkey-register").addEventListener("click", register);
    $("passkey-form").addEventListener("submit", (event) => { event.preventDefault(); signIn(); });
    $("passkey-subject").addEventListener("focus", () => {
      if (!$("passkey-subject").value.trim() && !autofill) startAutofill();
    });
  }

  return { start };
})();
