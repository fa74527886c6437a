/* Target for the user-DWARF tests (tests/runtime/test_user_dwarf.py):
 * arguments of several types, a struct pointer, a global, negative
 * narrow values for sign extension. */
#include <stdio.h>

struct rec { int id; long total; short delta; signed char mark; char tag[8]; struct rec *next; };

int counter = 42;

__attribute__((noipa)) int visit(int n, long scale, const char *label, struct rec *r) {
    int doubled = n * 2;
    counter += doubled;
    return doubled + (int)scale + label[0] + r->id;
}

__attribute__((noipa)) short shrink(short v, signed char c) { return (short)(v * 2 + c); }

int main(int argc, char **argv) {
    struct rec second = { 2, 20, -7, -9, "two", 0 };
    struct rec first = { 1, 10, -300, -5, "one", &second };
    char label[16];
    snprintf(label, sizeof label, "lbl%d", argc);
    int r = visit(3, 100L, label, &first);
    r += shrink(-21, -1);
    return r == 172 && counter == 48 ? 0 : 1;      /* no output: pytap's is compared */
}
