#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>
int main(int argc, char **argv) {
  int in = open(argv[1], O_RDONLY); if (in < 0) { fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno)); return 1; }
  int out = open(argv[2], O_WRONLY|O_CREAT|O_TRUNC, 0644); if (out < 0) { fprintf(stderr, "open %s: %s\n", argv[2], strerror(errno)); return 1; }
  char b[4096]; ssize_t n;
  while ((n = read(in, b, sizeof b)) > 0) if (write(out, b, n) != n) { perror("write"); return 1; }
  if (n < 0) { perror("read"); return 1; }
  return 0;
}
