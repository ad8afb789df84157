"""How much of each espeak-ng voice the phone encoder can name: the share of its tokens that are
<unk>, with the old inventory (139 whole phones, a phone outside it fell back to itself without
length mark or diacritics, else <unk>) and the current one (a phone split into a base symbol from
the IPA chart plus modifier and tone tokens, see encoders/text/phone.py), side by side.

Each voice reads numbers 0..199 spelled by num2words in that language (Chinese numerals written
here for cmn and yue, Hindi number words for hi) and a dozen everyday sentences, through the
encoder's own path (normalise_transcript, then espeak-ng). Counts are of phones from espeak-ng
(word boundaries excluded) and of tokens; "stripped" counts the phones the old lookup named only
after dropping their length mark or diacritics (ja o̞ as o, vi i̯ as i: information lost, not
<unk>); "top <unk>" lists the phones that produce one.

    python bench/bench_phone_coverage.py [--voices en-us,ja,cmn] [--numbers 200] [--show-tokens]
"""

from __future__ import annotations

import argparse
import collections
import time
import unicodedata

VOICES = ("en-us", "en-gb", "de", "fr-fr", "es", "it", "ru", "cmn", "yue", "ja", "ko", "hi", "ar")

SENTENCES = {
    "en": ["The quick brown fox jumps over the lazy dog.", "She sells sea shells by the sea shore.",
           "A thorough measure of the jury's pleasure.", "Where were you when the lights went out?",
           "I would like a cup of coffee and a cheese sandwich, please.", "The children played in the garden until evening.",
           "Our neighbours bought a new car yesterday.", "Please call me back tomorrow morning.",
           "Rivers flow quietly toward the ocean.", "How much does the train ticket cost?"],
    "de": ["Der schnelle braune Fuchs springt über den faulen Hund.", "Guten Morgen, wie geht es Ihnen heute?",
           "Ich möchte eine Tasse Kaffee und ein Stück Kuchen.", "Die Kinder spielen im Garten bis zum Abend.",
           "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.", "Können Sie mir bitte helfen?",
           "Das Wetter ist schön, aber es ist kalt.", "Wir fahren nächste Woche nach München.",
           "Eichhörnchen sammeln Nüsse für den Winter.", "Wo ist der Bahnhof?"],
    "fr": ["Portez ce vieux whisky au juge blond qui fume.", "Bonjour, comment allez-vous aujourd'hui ?",
           "Je voudrais un café et un croissant, s'il vous plaît.", "Les enfants jouent dans le jardin jusqu'au soir.",
           "Un vin blanc et un pain brun.", "Il fait beau mais il fait froid.", "Nous partons en vacances la semaine prochaine.",
           "Où se trouve la gare ?", "La grenouille saute dans l'eau.", "Ils ont vu un oiseau jaune."],
    "es": ["El veloz murciélago hindú comía feliz cardillo y kiwi.", "Buenos días, ¿cómo está usted?",
           "Quisiera un café con leche y una tostada.", "Los niños juegan en el jardín hasta la noche.",
           "El perro corre por la calle mojada.", "Hace buen tiempo pero hace frío.", "Mañana vamos a la playa.",
           "¿Dónde está la estación de tren?", "La guitarra suena muy bien.", "Me gusta el chocolate caliente."],
    "it": ["Ma la volpe col suo balzo ha raggiunto il quieto Fido.", "Buongiorno, come sta oggi?",
           "Vorrei un caffè e un cornetto, per favore.", "I bambini giocano in giardino fino a sera.",
           "Gli gnocchi sono buoni.", "Fa bello ma fa freddo.", "La settimana prossima andiamo a Roma.",
           "Dov'è la stazione?", "Il cielo è azzurro e sereno.", "Sciare in montagna è bellissimo."],
    "ru": ["Съешь же ещё этих мягких французских булок, да выпей чаю.", "Доброе утро, как у вас дела?",
           "Я хотел бы чашку кофе и кусок пирога.", "Дети играют в саду до вечера.",
           "Погода хорошая, но холодно.", "На следующей неделе мы поедем в Москву.", "Где находится вокзал?",
           "Щука плавает в реке.", "Мне нравится горячий шоколад.", "Широкая электрификация южных губерний."],
    "zh": ["你好，世界。", "我们是中国人。", "今天天气很好，但是有点冷。", "我想要一杯咖啡和一块蛋糕。",
           "孩子们在花园里玩到晚上。", "请问火车站在哪里？", "下个星期我们去北京。", "我喜欢喝热巧克力。",
           "这本书非常有意思。", "他每天早上六点起床。", "谢谢你的帮助。", "学习中文不太难。"],
    "ja": ["こんにちは、世界。", "今日はいい天気ですね。", "コーヒーとケーキをください。", "子供たちは夕方まで庭で遊んでいます。",
           "駅はどこですか。", "来週、東京へ行きます。", "私は熱いチョコレートが好きです。", "この本はとても面白いです。",
           "ありがとうございます。", "日本語を話します。", "きゃりーぱみゅぱみゅ", "しゃしんをとりましょう。"],
    "ko": ["안녕하세요, 세계.", "오늘 날씨가 좋네요.", "커피 한 잔과 케이크 하나 주세요.", "아이들이 저녁까지 정원에서 놀아요.",
           "기차역이 어디에 있어요?", "다음 주에 서울에 갑니다.", "저는 뜨거운 초콜릿을 좋아해요.", "이 책은 정말 재미있어요.",
           "감사합니다.", "한국어를 배우고 있어요.", "꽃이 활짝 피었어요.", "빨리 오세요."],
    "hi": ["नमस्ते दुनिया।", "आज मौसम अच्छा है।", "मुझे एक कप चाय चाहिए।", "बच्चे शाम तक बगीचे में खेलते हैं।",
           "रेलवे स्टेशन कहाँ है?", "अगले हफ़्ते हम दिल्ली जाएँगे।", "मुझे गरम चॉकलेट पसंद है।", "यह किताब बहुत रोचक है।",
           "धन्यवाद।", "मैं हिंदी सीख रहा हूँ।", "फूल खिल गए हैं।", "जल्दी आइए।"],
    "ar": ["مرحبا بالعالم.", "الطقس جميل اليوم.", "أريد فنجان قهوة وقطعة كعك.", "يلعب الأطفال في الحديقة حتى المساء.",
           "أين محطة القطار؟", "سنذهب إلى القاهرة الأسبوع القادم.", "أحب الشوكولاتة الساخنة.", "هذا الكتاب ممتع جدا.",
           "شكرا جزيلا.", "أنا أتعلم اللغة العربية.", "الشمس مشرقة والسماء صافية.", "تعال بسرعة."],
}
HINDI_NUMBERS = ("शून्य एक दो तीन चार पाँच छह सात आठ नौ दस ग्यारह बारह तेरह चौदह पंद्रह सोलह सत्रह अठारह उन्नीस बीस "
                 "तीस चालीस पचास साठ सत्तर अस्सी नब्बे सौ हज़ार").split()


def chinese_number(n: int) -> str:
    """0..9999 in Chinese numerals (一百二十三); enough for a reading test."""
    digits, units = "零一二三四五六七八九", ("", "十", "百", "千")
    if n == 0:
        return "零"
    out, zero = [], False
    for i, d in reversed(list(enumerate(int(c) for c in reversed(str(n))))):
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(("" if (d == 1 and i == 1 and not out) else digits[d]) + units[i])
    return "".join(out)


def texts_for(voice: str, numbers: int) -> list[str]:
    from num2words import num2words

    base = voice.split("-")[0]
    if base in ("cmn", "yue"):
        return [*SENTENCES["zh"], *(chinese_number(n) for n in range(numbers))]
    if base == "hi":
        return [*SENTENCES["hi"], *HINDI_NUMBERS]
    return [*SENTENCES[base], *(num2words(n, lang=base) for n in range(numbers))]


# the inventory before it was split into base symbols, modifiers and tones: its first 139 entries
OLD_SIZE = 139


def old_phone_id(phone: str) -> int:
    """The old lookup: the phone, else without length mark, else without diacritics, else <unk>."""
    from encoders.text.phone import PHONE_INVENTORY, UNK

    index = {p: i for i, p in enumerate(PHONE_INVENTORY[:OLD_SIZE])}
    short = phone.replace("ː", "")
    plain = unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFD", phone) if not unicodedata.combining(c)))
    for candidate in (phone, short, plain, plain.replace("ː", "")):
        if candidate in index:
            return index[candidate]
    return UNK


def measure(voice: str, numbers: int) -> dict:
    from encoders.audio.transcript import normalise_transcript
    from encoders.text.phone import PHONE_INVENTORY, UNK, phone_tokens, phonemize

    texts = [normalise_transcript(t, voice) for t in texts_for(voice, numbers)]
    t0 = time.perf_counter()
    lines = phonemize(texts, voice)
    seconds = time.perf_counter() - t0
    phones = [p for line in lines for p in line if p != "|"]
    old = [old_phone_id(p) for p in phones]
    new = [phone_tokens(p) for p in phones]
    old_unk = collections.Counter(p for p, i in zip(phones, old) if i == UNK)
    old_lossy = sum(1 for p, i in zip(phones, old) if i not in (UNK, PHONE_INVENTORY.index(p) if p in PHONE_INVENTORY[:OLD_SIZE] else -1))
    new_unk = collections.Counter(p for p, ids in zip(phones, new) if UNK in ids)
    n_new = sum(len(ids) for ids in new)
    tokens = collections.Counter(PHONE_INVENTORY[i] for ids in new for i in ids)
    return {"voice": voice, "texts": len(texts), "phones": len(phones), "old_unk": sum(old_unk.values()), "old_lossy": old_lossy, "old_top": old_unk.most_common(6),
            "tokens": n_new, "new_unk": sum(ids.count(UNK) for ids in new), "new_top": new_unk.most_common(6),
            "distinct": len(set(phones)), "seconds": seconds, "token_counts": tokens}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--voices", default=",".join(VOICES))
    ap.add_argument("--numbers", type=int, default=200, help="numbers 0..N-1 read in each language")
    ap.add_argument("--show-tokens", action="store_true", help="print each voice's token counts")
    args = ap.parse_args()
    from encoders.text.phone import PHONE_INVENTORY, backend_name

    print(f"backend {backend_name()}; inventory old {OLD_SIZE}, new {len(PHONE_INVENTORY)} tokens")
    print(f"{'voice':7} {'texts':>5} {'phones':>6} {'distinct':>8} | {'old <unk>':>15} {'stripped':>8} | {'new tokens':>10} {'new <unk>':>13} | top <unk> old -> new")
    rows = [measure(v, args.numbers) for v in args.voices.split(",")]
    for r in rows:
        old = f"{r['old_unk']:5d} {100 * r['old_unk'] / max(r['phones'], 1):5.1f} %"
        new = f"{r['new_unk']:4d} {100 * r['new_unk'] / max(r['tokens'], 1):5.1f} %"
        top_old = " ".join(f"{p}:{n}" for p, n in r["old_top"][:4]) or "-"
        top_new = " ".join(f"{p}:{n}" for p, n in r["new_top"][:4]) or "-"
        print(f"{r['voice']:7} {r['texts']:5d} {r['phones']:6d} {r['distinct']:8d} | {old:>15} {r['old_lossy']:8d} | {r['tokens']:10d} {new:>13} | {top_old} -> {top_new}")
        if args.show_tokens:
            print("        " + " ".join(f"{t}:{n}" for t, n in r["token_counts"].most_common()))


if __name__ == "__main__":
    main()
