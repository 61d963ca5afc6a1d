/**
 * Press and hold: a button that steps by 1 on a click, a tap, Enter or Space, and by
 * HOLD_STEP once held for a moment, repeating while held. No state of its own.
 * @module hold
 */

export const HOLD_MS = 500;      // press this long for steps of HOLD_STEP
export const REPEAT_MS = 450;    // and again this often while held
export const HOLD_STEP = 5;

/**
 * A button that steps by 1 on a click or tap (or Enter/Space), and by HOLD_STEP
 * after being held for a moment, repeating while held.
 * @param {HTMLButtonElement} button @param {(step: number) => void} onStep
 */
export function holdable(button, onStep) {
  let timer = null;
  let held = false;
  const stop = () => {
    clearTimeout(timer);
    clearInterval(timer);
    timer = null;
  };
  button.addEventListener('pointerdown', (event) => {
    if (event.button !== 0 || button.disabled) return;
    held = false;
    stop();
    timer = setTimeout(() => {
      held = true;
      onStep(HOLD_STEP);
      timer = setInterval(() => onStep(HOLD_STEP), REPEAT_MS);
    }, HOLD_MS);
  });
  for (const end of ['pointerup', 'pointerleave', 'pointercancel']) {
    button.addEventListener(end, stop);
  }
  button.addEventListener('contextmenu', (event) => event.preventDefault());
  button.addEventListener('click', () => {
    if (held) {  // the hold already counted; this is its release
      held = false;
      return;
    }
    onStep(1);
  });
}
