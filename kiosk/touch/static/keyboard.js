// The on-screen keyboard (a Pi kiosk has no physical one), built on simple-keyboard.
//
// <div data-keyboard="digits|text" data-for="<input id>" data-label-…> becomes the keyboard
// for that input:
//  - "digits": a phone-style number pad (phone numbers, codes);
//  - "text": pinyin with candidate characters (simple-keyboard-layouts' Chinese table: type
//    a syllable, tap the character; one syllable at a time), English letters, and digits.
// Labels come from the page (translated on the server). The pinyin table (37 KB) is loaded
// only for a text keyboard, and only once: the browser caches it for good.
import Keyboard from "./vendor/simple-keyboard-3.8.192/index.modern.esm.js";

const LETTERS = [
  "q w e r t y u i o p",
  "a s d f g h j k l",
  "z x c v b n m {bksp}"
];
const MODES = "{pinyin} {abc} {digits} {space} {clear}";

const LAYOUTS = {
  digits: { default: ["1 2 3", "4 5 6", "7 8 9", "{clear} 0 {bksp}"] },
  text: {
    pinyin: [...LETTERS, MODES],
    abc: [...LETTERS, MODES],
    digits: ["1 2 3 4 5 6 7 8 9 0", "- . @ _ / {bksp}", MODES]
  }
};

const MODE_KEYS = { pinyin: "{pinyin}", abc: "{abc}", digits: "{digits}" };

function labels(host) {
  const data = host.dataset;
  return {
    "{bksp}": data.labelBksp,
    "{clear}": data.labelClear,
    "{space}": data.labelSpace,
    "{pinyin}": data.labelPinyin,
    "{abc}": data.labelAbc,
    "{digits}": data.labelDigits
  };
}

// The current mode's key looks pressed and says so (colour is never the only signal).
function modeMarks(mode) {
  const current = MODE_KEYS[mode];
  const others = Object.values(MODE_KEYS).filter((key) => key !== current).join(" ");
  return {
    buttonTheme: current ? [{ class: "is-current", buttons: current }] : [],
    buttonAttributes: current
      ? [
          { attribute: "aria-pressed", value: "true", buttons: current },
          { attribute: "aria-pressed", value: "false", buttons: others }
        ]
      : []
  };
}

async function setUp(host) {
  const input = document.getElementById(host.dataset.for);
  if (!input) { return; }
  const kind = host.dataset.keyboard === "text" ? "text" : "digits";
  const display = labels(host);
  host.setAttribute("role", "group");
  host.setAttribute("aria-label", host.dataset.labelKeyboard || "");

  let candidates = {};
  if (kind === "text") {
    const chinese = await import("./vendor/simple-keyboard-layouts-3.4.265/chinese.js");
    candidates = chinese.default.layoutCandidates;
  }
  const maxLength = input.maxLength > 0 ? input.maxLength : undefined;
  let keyboard = null;

  function setMode(mode) {
    keyboard.setOptions({
      layoutName: mode,
      enableLayoutCandidates: mode === "pinyin",
      ...modeMarks(mode)
    });
  }

  function changed(value) {
    input.value = value;
    input.removeAttribute("aria-invalid");
  }

  function pressed(button) {
    if (button === "{clear}") {
      keyboard.clearInput();
      changed("");
    } else if (button === "{pinyin}") {
      setMode("pinyin");
    } else if (button === "{abc}") {
      setMode("abc");
    } else if (button === "{digits}") {
      setMode("digits");
    }
  }

  const initial = kind === "text" ? "pinyin" : "default";
  keyboard = new Keyboard(host, {
    layout: LAYOUTS[kind],
    layoutName: initial,
    display,
    mergeDisplay: false,
    theme: "hg-theme-default",
    useButtonTag: true,
    disableButtonHold: true,
    preventMouseDownDefault: true,
    maxLength,
    enableLayoutCandidates: kind === "text",
    layoutCandidates: candidates,
    layoutCandidatesPageSize: 6,
    onChange: changed,
    onKeyPress: pressed,
    ...modeMarks(initial)
  });
  keyboard.setInput(input.value);
  // A physical keyboard, where there is one, types into the same text.
  input.addEventListener("input", () => keyboard.setInput(input.value));
  document.addEventListener("kiosk:forget", () => keyboard.clearInput());
  host.dataset.ready = "true"; // tests wait for this
}

document.querySelectorAll("[data-keyboard]").forEach((host) => { setUp(host); });
