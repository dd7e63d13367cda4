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

  const note = document.getElementById("live-note");
  function say(text) {
    if (note) {
      note.textContent = text;
    }
  }

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

  function apply(doc) {
    if (!doc.ok) {
      body.classList.add("pots-away");
      if (!document.getElementById("problem")) {
        say(doc.problem.title + " (" + doc.problem.detail + "). Waiting for it to come back…");
      }
      return;
    }
    if (body.classList.contains("pots-away")) {
      body.classList.remove("pots-away");
      say("The pot server is back.");
    }
    if (document.getElementById("problem")) {
      reloadOnce();
      return;
    }
    doc.pots.forEach(function (pot) {
      const card = document.getElementById("pot-" + pot.index);
      if (!card) {
        reloadOnce();
        return;
      }
      card.dataset.state = pot.state;
      setText(card, "state", pot.label);
      setText(card, "summary", pot.summary);
      setText(card, "timer-label", pot.timer_label);
      const timer = card.querySelector('[data-role="timer"]');
      const clock = card.querySelector('[data-role="clock"]');
      timer.hidden = !pot.timer_label;
      if (pot.timer_label) {
        setDeadline(clock, pot.seconds_left);
      } else {
        deadlines.delete(clock);
      }
      card.querySelectorAll("[data-show]").forEach(function (form) {
        form.hidden = form.dataset.show.split(" ").indexOf(pot.state) < 0;
      });
    });
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
    if (paused) {
      paused = false;
      say("");
    }
    apply(JSON.parse(event.data));
  };
  source.onerror = function () {
    paused = true;
    say("Live updates paused; reconnecting…");
  };
})();
