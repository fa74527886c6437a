"""Lexer: token kinds, coordinates, escapes, comments, errors."""
from pytap.lexer import tokenize


def kinds(text):
    return [(t.type, t.value) for t in tokenize(text, "f.stp")[:-1]]


def test_basic_kinds():
    assert kinds('probe begin { x = 0x10 + "a\\n" }') == [
        ("PROBE", "probe"), ("IDENT", "begin"), ("LBRACE", "{"), ("IDENT", "x"),
        ("ASSIGN", "="), ("NUMBER", "0x10"), ("PLUS", "+"), ("STRING", "a\\n"), ("RBRACE", "}")]


def test_longest_operator_first():
    assert [t for t, _ in kinds("a <<< b >>> c <<= d .= e -> f !~ g")] == [
        "IDENT", "LLL", "IDENT", "RRR", "IDENT", "LSHIFTEQ", "IDENT", "DOTEQ", "IDENT",
        "ARROW", "IDENT", "NOMATCH", "IDENT"]


def test_targets_atwords_args():
    assert kinds("$var $$vars $x$ $$parms$$ @count @1 $2 $# @#") == [
        ("TARGET", "$var"), ("TARGET", "$$vars"), ("TARGET", "$x$"), ("TARGET", "$$parms$$"),
        ("ATWORD", "@count"), ("ARGREF", "@1"), ("ARGREF", "$2"), ("ARGREF", "$#"),
        ("ARGREF", "@#")]


def test_keywords_and_string_keyword():
    ts = kinds("string long foreach limit try catch private")
    assert [t for t, _ in ts] == ["STRING_KW", "LONG", "FOREACH", "LIMIT", "TRY", "CATCH",
                                  "PRIVATE"]


def test_coordinates_are_one_based_and_cross_comments():
    toks = tokenize("# c\n  a /* x\ny */ b // z\n\tc", "f.stp")
    assert [(t.value, t.lineno, t.col) for t in toks[:-1]] == [
        ("a", 2, 3), ("b", 3, 6), ("c", 4, 2)]
    assert str(toks[0].loc) == "f.stp:2:3"


def test_whitespace_flag_for_probe_point_gluing():
    toks = tokenize("a*b c", "f")
    assert [t.ws_before for t in toks[:4]] == [True, False, False, True]


def test_escapes_unknown_backslash_dropped():
    # C escapes stay as written; stap drops the backslash of any other
    (t, v), = kinds(r'"\n\t\\\"\x41\101\{\.q"')
    assert v == r'\n\t\\\"\x41\101{.q'


def test_embedded_code():
    toks = tokenize("%{ int x; %} y", "f")
    assert toks[0].type == "EMBEDDED" and toks[0].value == " int x; "
    assert (toks[1].value, toks[1].col) == ("y", 14)


def test_unterminated_string_ends_stream_with_error():
    toks = tokenize('x = "abc', "f")
    assert toks[-2].type == "LEXERR"
    assert toks[-2].value.message == "Could not find matching closing quote"
    assert str(toks[-2].value.loc) == "f:1:5"


def test_unclosed_comment_runs_to_end():
    assert kinds("a /* b c") == [("IDENT", "a")]


def test_junk_character_is_an_operator_like_token():
    toks = tokenize("a ` b", "f")
    assert toks[1].type == "JUNK" and toks[1].desc() == "operator '`'"


def test_token_descriptions():
    toks = tokenize('x 3 "s" probe + %{ c %}', "f")
    assert [t.desc() for t in toks[:-1]] == [
        "identifier 'x'", "number '3'", "string 's'", "keyword", "operator '+'",
        "embedded-code"]
    assert toks[-1].desc() == "f EOF"
