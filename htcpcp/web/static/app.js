// HTCPCP web front end: progressive enhancement only. Every page works without
// this script; with it, the pots update live, countdowns tick, the brew form
// offers each pot's own additions and teas, and the theme switches at once.
"use strict";

(function () {
  const body = document.body;

  function clockText(seconds) {
    const whole = Math.max(0, Math.ceil(seconds));
    const rest = whole % 60;
    return Math.floor(whole / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  // Theme: apply at once, tell the server in the background.
  const themeForm = document.getElementById("theme-form");
  if (themeForm) {
    themeForm.addEventListener("submit", function (event) {
      const button = event.submitter;
      if (!button || !button.value) {
        return;
      }
      event.preventDefault();
      document.documentElement.dataset.theme = button.value;
      themeForm.querySelectorAll("button").forEach(function (each) {
        each.setAttribute("aria-pressed", String(each === button));
      });
      const data = new URLSearchParams(new FormData(themeForm));
      data.set("theme", button.value);
      fetch(themeForm.action, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        redirect: "manual",
      }).catch(function () {});
    });
  }

  // A form is sent once: a second click while the first is under way does nothing.
  document.querySelectorAll('form[method="post"]').forEach(function (form) {
    if (form.id === "theme-form") {
      return;
    }
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent === "1") {
        event.preventDefault();
        return;
      }
      form.dataset.sent = "1";
      form.querySelectorAll("button").forEach(function (button) {
        button.setAttribute("aria-disabled", "true");
      });
    });
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll('form[data-sent="1"]').forEach(function (form) {
      delete form.dataset.sent;
      form.querySelectorAll("button").forEach(function (button) {
        button.removeAttribute("aria-disabled");
      });
    });
  });

  // The brew form: show the chosen pot's additions and teas only.
  const potSelect = document.getElementById("brew-pot");
  const drinkSelect = document.getElementById("brew-drink");
  function filterBrewForm(chooseDrink) {
    const pot = potSelect.value;
    document.querySelectorAll("#brew-form [data-pots]").forEach(function (element) {
      const offered = element.dataset.pots.split(" ").indexOf(pot) >= 0;
      element.hidden = !offered;
      if (element.tagName === "OPTION") {
        element.disabled = !offered;
      } else if (!offered) {
        const box = element.querySelector("input");
        if (box) {
          box.checked = false;
        }
      }
    });
    drinkSelect.querySelectorAll("optgroup").forEach(function (group) {
      group.hidden = !group.querySelector("option:not([disabled])");
    });
    const own = drinkSelect.querySelector('option[data-pots="' + pot + '"]:not([value="coffee"])');
    if (chooseDrink && own) {
      own.selected = true;
    } else if (drinkSelect.selectedOptions[0].disabled) {
      drinkSelect.value = "coffee";
    }
  }
  if (potSelect && drinkSelect) {
    potSelect.addEventListener("change", function () {
      filterBrewForm(true);
    });
    filterBrewForm(false);
  }

  // Countdowns tick locally between updates.
  const deadlines = new Map();
  function setDeadline(clock, seconds) {
    deadlines.set(clock, performance.now() + seconds * 1000);
    clock.textContent = clockText(seconds);
  }
  document.querySelectorAll('[data-role="clock"]').forEach(function (clock) {
    setDeadline(clock, parseFloat(clock.dataset.seconds || "0"));
  });
  setInterval(function () {
    const now = performance.now();
    deadlines.forEach(function (deadline, clock) {
      clock.textContent = clockText((deadline - now) / 1000);
    });
  }, 250);

  if (body.dataset.live !== "1") {
    return;
  }

  // One polite live region: each change is said once, never the countdown.
  const note = document.getElementById("live-note");
  function say(text) {
    if (note && note.textContent !== text) {
      note.textContent = text;
    }
  }
  const SAID = {
    brewing: " has started brewing.",
    pouring: " is pouring milk: say when.",
    ready: " is ready.",
    stopped: " was stopped early.",
    idle: " is empty.",
  };
  const states = new Map();
  document.querySelectorAll("article.pot").forEach(function (card) {
    states.set(card.id, card.dataset.state);
  });
  function announce(pot) {
    const was = states.get("pot-" + pot.index);
    states.set("pot-" + pot.index, pot.state);
    if (was === undefined || was === pot.state || was === "unknown") {
      return "";
    }
    const key = pot.state === "ready" && pot.label === "Stopped early" ? "stopped" : pot.state;
    return SAID[key] ? pot.name + SAID[key] : "";
  }
  let away = false;

  function reloadOnce() {
    const last = Number(sessionStorage.getItem("htcpcp-reloaded") || "0");
    if (Date.now() - last > 5000) {
      sessionStorage.setItem("htcpcp-reloaded", String(Date.now()));
      location.reload();
    }
  }

  function setText(card, role, text) {
    const element = card.querySelector('[data-role="' + role + '"]');
    if (element && element.textContent !== text) {
      element.textContent = text;
    }
  }

  function sinceText(seconds) {
    const when = new Date(seconds * 1000);
    return when.toISOString().slice(11, 19) + " UTC";
  }

  function markUnknown(problem) {
    document.querySelectorAll("article.pot").forEach(function (card) {
      card.dataset.state = "unknown";
      states.set(card.id, "unknown");
      setText(card, "state", "Unknown — pot server unreachable since " + sinceText(problem.since));
      card.querySelector('[data-role="timer"]').dataset.off = "1";
      card.querySelectorAll("button").forEach(function (button) {
        button.disabled = true;
      });
    });
    const fields = document.getElementById("brew-fields");
    if (fields) {
      fields.disabled = true;
    }
  }

  function apply(doc) {
    if (!doc.ok) {
      body.classList.add("pots-away");
      markUnknown(doc.problem);
      if (!away) {
        away = true;
        say(doc.problem.title + " since " + sinceText(doc.problem.since) + ": the pots cannot be used.");
      }
      return;
    }
    if (away || document.getElementById("problem")) {
      sessionStorage.setItem("htcpcp-back", "1");
      reloadOnce();
      return;
    }
    const said = [];
    doc.pots.forEach(function (pot) {
      const card = document.getElementById("pot-" + pot.index);
      if (!card) {
        reloadOnce();
        return;
      }
      const change = announce(pot);
      if (change) {
        said.push(change);
      }
      card.dataset.state = pot.state;
      setText(card, "state", pot.label);
      setText(card, "summary", pot.summary);
      setText(card, "timer-label", pot.timer_label);
      const timer = card.querySelector('[data-role="timer"]');
      const clock = card.querySelector('[data-role="clock"]');
      if (pot.timer_label) {
        delete timer.dataset.off;
      } else {
        timer.dataset.off = "1";
      }
      if (pot.timer_label) {
        setDeadline(clock, pot.seconds_left);
      } else {
        deadlines.delete(clock);
      }
      card.querySelectorAll("[data-show]").forEach(function (form) {
        form.hidden = form.dataset.show.split(" ").indexOf(pot.state) < 0;
      });
    });
    if (said.length) {
      say(said.join(" "));
    }
  }
  if (sessionStorage.getItem("htcpcp-back") === "1" && !document.getElementById("problem")) {
    sessionStorage.removeItem("htcpcp-back");
    say("The pot server is back.");
  }

  function poll() {
    fetch(body.dataset.status, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        return response.json();
      })
      .then(apply)
      .catch(function () {
        say("Live updates paused: the web server cannot be reached.");
      })
      .finally(function () {
        setTimeout(poll, 2000);
      });
  }

  if (!("EventSource" in window)) {
    poll();
    return;
  }
  let paused = false;
  const source = new EventSource(body.dataset.events);
  source.onmessage = function (event) {
    paused = false;
    apply(JSON.parse(event.data));
  };
  source.onerror = function () {
    if (!paused) {
      paused = true;
      say("Live updates paused; reconnecting…");
    }
  };
})();
