/**
 * The game table in words: a log entry as one line a person reads ("Alice: life 40 →
 * 33"), for the log drawer, the announcements and screen readers. No DOM.
 * @module game-text
 */

const MARKER_NAMES = { monarch: 'the monarch', initiative: 'the initiative', day_night: 'day/night' };

/**
 * @param {import('./game.js').LogEntry & Record<string, any>} entry
 * @param {(userId: ?string) => string} nameOf a player's name (for markers and turns)
 * @returns {string}
 */
export function describeEntry(entry, nameOf) {
  const who = entry.actor_name ?? (entry.host ? 'The host' : 'Someone');
  const target = entry.player_name ?? nameOf(entry.player);
  const by = entry.actor !== entry.player && entry.player ? ` (by ${who})` : '';
  const times = entry.count > 1 ? ` (${entry.count} changes)` : '';
  const action = entry.action ?? {};
  switch (entry.type) {
    case 'life':
    case 'poison':
      return `${target}: ${entry.type} ${entry.before} → ${entry.after}${by}${times}`;
    case 'commander': {
      const source = nameOf(action.source);
      const second = action.index === 1 ? ' (second commander)' : '';
      const life = entry.life ? `; life ${entry.life.before} → ${entry.life.after}` : '';
      return `${target}: commander damage from ${source}${second} ${entry.before} → `
        + `${entry.after}${life}${by}${times}`;
    }
    case 'counter':
      return `${target}: ${action.name} ${entry.before} → ${entry.after}${by}${times}`;
    case 'partner':
      return `${target} ${entry.after ? 'has' : 'no longer has'} partner commanders${by}`;
    case 'marker': {
      const what = MARKER_NAMES[action.marker] ?? action.marker;
      if (action.marker === 'day_night') return `${who} made it ${entry.after ?? 'neither day nor night'}`;
      if (!entry.after) return `Nobody has ${what} (by ${who})`;
      const holder = nameOf(entry.after);
      return `${holder} has ${what}${holder === who ? '' : ` (by ${who})`}`;
    }
    case 'pass-turn':
      return `${who} passed the turn: turn ${entry.after.turn}, ${nameOf(entry.after.active)}`;
    case 'set-active': {
      const active = nameOf(entry.after.active);
      return `It is ${active}'s turn (turn ${entry.after.turn})${active === who ? '' : `: set by ${who}`}`;
    }
    case 'first-player':
      return `${nameOf(entry.result?.player)} goes first (picked at random for ${who})`;
    case 'seat-order':
      return `${who} changed the seat order: ${(entry.after ?? []).map(nameOf).join(', ')}`;
    case 'pause':
      return `${who} ${entry.after ? 'paused' : 'resumed'} the game`;
    case 'roll':
      return `${who} rolled ${describeRoll(entry.result)}`;
    case 'flip':
      return `${who} flipped ${describeFlip(entry.result)}`;
    case 'settings':
      return `${who} changed the table's settings${describeSettings(entry.after)}`;
    case 'new-game':
      return `${who} started game ${entry.after.game}: ${formatName(entry.after.format)}`;
    case 'remove-player':
      return `${who} removed ${target} from the game`
        + (entry.before ? ` (at ${entry.before.life} life)` : '');
    case 'undo':
      return `${who} undid entry ${entry.undoes}${entry.target ? ` (${entry.target.type})` : ''}`;
    case 'join':
      return entry.before ? `${entry.before} is now ${entry.after}` : `${entry.after} joined the game`;
    default:
      return `${who}: ${entry.type}`;
  }
}

/** @param {?{dice: number, sides: number, rolls: number[], total: number}} result */
export function describeRoll(result) {
  if (!result) return 'dice';
  const rolls = result.rolls.length > 1 ? `${result.rolls.join(' + ')} = ${result.total}`
    : String(result.total);
  return `${result.dice}d${result.sides}: ${rolls}`;
}

/** @param {?{coins: number, results: string[], heads: number}} result */
export function describeFlip(result) {
  if (!result) return 'a coin';
  if (result.coins === 1) return `a coin: ${result.results[0]}`;
  return `${result.coins} coins: ${result.results.join(', ')} (${result.heads} heads)`;
}

function describeSettings(after) {
  if (!after) return '';
  const parts = [after.owner_only ? 'only owners change their values'
    : 'anyone records damage they deal'];
  if (after.clock) parts.push(`clocks ${Math.round(after.clock.total / 60)} min + ${after.clock.increment} s`);
  return `: ${parts.join('; ')}`;
}

/** @param {{name: string, starting_life: number, commander_damage: boolean}} format */
export function formatName(format) {
  if (!format) return '';
  const name = { commander: 'Commander', standard: 'Standard', custom: 'Custom' }[format.name]
    ?? format.name;
  return `${name}, ${format.starting_life} life${format.commander_damage ? ', commander damage' : ''}`;
}

/** Entries that are about the game as a whole rather than a number (for announcements). */
export const ANNOUNCED = new Set(['roll', 'flip', 'first-player', 'pass-turn', 'set-active',
  'new-game', 'pause', 'remove-player', 'undo']);
