// The Unicode script of a code point, as a small integer: SentencePiece keeps a piece within one script
// (`split_by_unicode_script`), so the trainers ask this for every character of every candidate piece.
// The runtime's own Unicode tables answer (`\p{Script=…}`); results are cached per code point.

// Every script name of Unicode 15, the most common first (the lookup tries them in order).
const SCRIPTS = (
  'Common Latin Inherited Han Hiragana Katakana Hangul Cyrillic Greek Arabic Hebrew Devanagari Thai ' +
  'Adlam Ahom Anatolian_Hieroglyphs Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali Bhaiksuki ' +
  'Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian Chakma Cham ' +
  'Cherokee Chorasmian Coptic Cuneiform Cypriot Cypro_Minoan Deseret Dives_Akuru Dogra Duployan ' +
  'Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha Gujarati ' +
  'Gunjala_Gondi Gurmukhi Hanifi_Rohingya Hanunoo Hatran Imperial_Aramaic Inscriptional_Pahlavi ' +
  'Inscriptional_Parthian Javanese Kaithi Kannada Kawi Kayah_Li Kharoshthi Khitan_Small_Script Khmer ' +
  'Khojki Khudawadi Lao Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam ' +
  'Mandaic Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive ' +
  'Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar Nabataean Nag_Mundari Nandinagari ' +
  'New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic ' +
  'Old_North_Arabian Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya ' +
  'Osage Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic ' +
  'Samaritan Saurashtra Sharada Shavian Siddham SignWriting Sinhala Sogdian Sora_Sompeng Soyombo ' +
  'Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangsa Tangut ' +
  'Telugu Thaana Tibetan Tifinagh Tirhuta Toto Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi ' +
  'Zanabazar_Square'
).split(' ');

const TESTS: RegExp[] = [];
for (const name of SCRIPTS) {
  try {
    TESTS.push(new RegExp(`^\\p{Script=${name}}$`, 'u'));
  } catch {
    TESTS.push(/^(?!)$/); // a script this runtime does not know: never matches
  }
}

export const SCRIPT_UNKNOWN = SCRIPTS.length;
const HAN = SCRIPTS.indexOf('Han');
const HIRAGANA = SCRIPTS.indexOf('Hiragana');
const KATAKANA = SCRIPTS.indexOf('Katakana');

const bmp = new Int16Array(0x10000).fill(-1);
const astral = new Map<number, number>();

/** The script id of `cp` (SCRIPT_UNKNOWN for unassigned and private-use code points). */
export function scriptOf(cp: number): number {
  if (cp < 0x10000) {
    const s = bmp[cp]!;
    if (s >= 0) return s;
  } else {
    const s = astral.get(cp);
    if (s !== undefined) return s;
  }
  const ch = String.fromCodePoint(cp);
  let id = SCRIPT_UNKNOWN;
  for (let i = 0; i < TESTS.length; i++) {
    if (TESTS[i]!.test(ch)) {
      id = i;
      break;
    }
  }
  if (cp < 0x10000) bmp[cp] = id;
  else astral.set(cp, id);
  return id;
}

/** The script SentencePiece compares: Hiragana, Katakana and the prolonged sound mark count as Han. */
export function pieceScriptOf(cp: number): number {
  if (cp === 0x30fc) return HAN;
  const s = scriptOf(cp);
  return s === HIRAGANA || s === KATAKANA ? HAN : s;
}
