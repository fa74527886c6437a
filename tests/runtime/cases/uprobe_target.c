/* Target for the uprobe cases: calls work() three times. */
#include <stdio.h>
__attribute__((noinline)) int work(int n) { return n * 10; }
int main(void) {
    int total = 0;
    for (int i = 1; i <= 3; i++)
        total += work(i);
    return total == 60 ? 0 : 1;
}
