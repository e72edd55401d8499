"""Telegram's HTML parse mode, checked against TDLib's own test vectors."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from openclaw.testing.telegram_text import (
    TelegramEntityError,
    detect_entities,
    entity_text,
    parse_html,
    utf16_len,
)

ERRORS = {
    "🏟 🏟&lt;<abacaba": "Unclosed start tag at byte offset 13",
    "🏟 🏟&lt;<abac aba>": 'Unsupported start tag "abac" at byte offset 13',
    "🏟 🏟&lt;<i   =aba>": 'Empty attribute name in the tag "i" at byte offset 13',
    "🏟 🏟&lt;<i    aba>":
        'Expected equal sign in declaration of an attribute of the tag "i" at byte offset 13',
    "🏟 🏟&lt;<i    aba  =  ": 'Unclosed start tag "i" at byte offset 13',
    "🏟 🏟&lt;<i    aba  =  190azAz-.,": "Unexpected end of name token at byte offset 27",
    '🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>': "Unclosed start tag at byte offset 13",
    "🏟 🏟&lt;</": "Unexpected end tag at byte offset 13",
    "🏟 🏟&lt;<b></b></": "Unexpected end tag at byte offset 20",
    "🏟 🏟&lt;<i>a</i   ": "Unclosed end tag at byte offset 17",
    "🏟 🏟&lt;<i>a</em   >": 'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"',
    "<b>bold": 'Can\'t find end tag corresponding to start tag "b"',
    "a < b": 'Unsupported start tag "" at byte offset 2',
    '<span class="x">y</span>': 'Tag "span" must have class "tg-spoiler" at byte offset 0',
    '<tg-emoji emoji-id="0">y</tg-emoji>': "Invalid custom emoji identifier specified",
    "&#57311;": "Text contains invalid Unicode characters after decoding HTML entities, check "
                "for unmatched surrogate code units",
}

PARSED = [
    ("", "", []),
    ("&ge;&lt;&gt;&amp;&quot;&laquo;&raquo;&#12345678;", '&ge;<>&"&laquo;&raquo;&#12345678;', []),
    ("AT&T &amp co", "AT&T & co", []),
    ("➡️ ➡️<i>➡️ ➡️</i>", "➡️ ➡️➡️ ➡️", [{"type": "italic", "offset": 5, "length": 5}]),
    ("🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>", "🏟 🏟🏟 ><🏟",
     [{"type": "italic", "offset": 5, "length": 7}, {"type": "bold", "offset": 9, "length": 3}]),
    ("🏟 🏟&lt;<i    aba  =  '&lt;&gt;&quot;'>a</>", "🏟 🏟<a",
     [{"type": "italic", "offset": 6, "length": 1}]),
    ('➡️ ➡️<span class = "tg-spoiler">➡️ ➡️</span><b>➡️ ➡️</b>', "➡️ ➡️➡️ ➡️➡️ ➡️",
     [{"type": "spoiler", "offset": 5, "length": 5}, {"type": "bold", "offset": 10, "length": 5}]),
    ("<a href=telegram.org> </a>", " ",
     [{"type": "text_link", "offset": 0, "length": 1, "url": "http://telegram.org/"}]),
    ("<a   href=  'telegram.org?&lt;'   > </a>", " ",
     [{"type": "text_link", "offset": 0, "length": 1, "url": "http://telegram.org/?<"}]),
    ("<a>telegram.org</a>", "telegram.org",
     [{"type": "text_link", "offset": 0, "length": 12, "url": "http://telegram.org/"}]),
    ('<a href="tg://user?id=42">Al</a>', "Al",
     [{"type": "text_mention", "offset": 0, "length": 2, "user": {"id": 42}}]),
    ("<a> </a>", " ", []),
    ('🏟 🏟&lt;<pre><code class="language-fift">🏟 🏟&lt;</></>', "🏟 🏟<🏟 🏟<",
     [{"type": "pre", "offset": 6, "length": 6, "language": "fift"}]),
    ("🏟 🏟&lt;<pre><code>🏟 🏟&lt;</code></>", "🏟 🏟<🏟 🏟<",
     [{"type": "pre", "offset": 6, "length": 6}, {"type": "code", "offset": 6, "length": 6}]),
    ("<code><i><b> </b></i></code>", " ", [{"type": "code", "offset": 0, "length": 1},
                                          {"type": "bold", "offset": 0, "length": 1},
                                          {"type": "italic", "offset": 0, "length": 1}]),
    ("<blockquote expandable>x</blockquote><u>y</u><s>z</s>", "xyz",
     [{"type": "expandable_blockquote", "offset": 0, "length": 1},
      {"type": "underline", "offset": 1, "length": 1},
      {"type": "strikethrough", "offset": 2, "length": 1}]),
    ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍",
     [{"type": "custom_emoji", "offset": 0, "length": 2,
       "custom_emoji_id": "5368324170671202286"}]),
]


class HtmlTests(SynchronousTestCase):
    def test_errors_match_tdlib(self) -> None:
        for markup, message in ERRORS.items():
            with self.assertRaises(TelegramEntityError, msg=markup) as caught:
                parse_html(markup)
            self.assertEqual(str(caught.exception), message)

    def test_parsed_text_and_entities_match_tdlib(self) -> None:
        for markup, text, entities in PARSED:
            self.assertEqual(parse_html(markup), (text, entities), markup)


class EntityTests(SynchronousTestCase):
    def test_detects_what_telegram_marks_by_itself(self) -> None:
        text = "🏟 @openclaw_bot /help@openclaw_bot see https://x.org/a. #tag #123 me@mail.com"
        found = detect_entities(text)
        self.assertEqual([(e["type"], entity_text(text, e)) for e in found], [
            ("mention", "@openclaw_bot"), ("bot_command", "/help@openclaw_bot"),
            ("url", "https://x.org/a"), ("hashtag", "#tag")])
        self.assertEqual(found[0]["offset"], 3)
        self.assertEqual(utf16_len("🏟"), 2)
