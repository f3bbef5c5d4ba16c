// Real-libc filesystem checks: argv[1] is the guest directory to work under ("/" or "/d").
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/time.h>

static int fails;
#define CHECK(c, ...) do { if (c) printf("ok   " __VA_ARGS__); else { fails++; printf("FAIL (errno %d %s) ", errno, strerror(errno)); printf(__VA_ARGS__); } } while (0)

static char B[256];
static char *P(const char *rel) { static char buf[8][512]; static int i; i = (i+1)%8;
  snprintf(buf[i], 512, "%s%s%s", B, strcmp(B, "/") ? "/" : "", rel); return buf[i]; }

static int listhas(const char *dir, const char *name) {
  DIR *d = opendir(dir); if (!d) return -1; struct dirent *e; int found = 0;
  while ((e = readdir(d))) if (!strcmp(e->d_name, name)) found = 1;
  closedir(d); return found;
}

int main(int argc, char **argv) {
  strcpy(B, argc > 1 ? argv[1] : "/");
  char buf[512]; struct stat st;
  int fd = open(P("inside.txt"), O_CREAT|O_WRONLY|O_TRUNC, 0644);
  CHECK(fd >= 0, "open(%s, O_CREAT)\n", P("inside.txt"));
  CHECK(write(fd, "hello\n", 6) == 6, "write\n"); close(fd);
  FILE *f = fopen(P("inside.txt"), "r");
  CHECK(f && fgets(buf, sizeof buf, f) && !strcmp(buf, "hello\n"), "fopen+read back\n"); if (f) fclose(f);
  CHECK(mkdir(P("x"), 0755) == 0, "mkdir %s\n", P("x"));
  CHECK(mkdir(P("x/y"), 0755) == 0, "mkdir %s\n", P("x/y"));
  CHECK(mkdir(P("x"), 0755) == -1 && errno == EEXIST, "mkdir again EEXIST\n");
  CHECK(rename(P("x/y"), P("x/z")) == 0, "rename x/y -> x/z\n");
  CHECK(stat(P("x/z"), &st) == 0 && S_ISDIR(st.st_mode), "stat x/z dir\n");
  CHECK(stat(P("x/y"), &st) == -1 && errno == ENOENT, "stat x/y ENOENT\n");
  CHECK(rename(P("inside.txt"), P("x/moved.txt")) == 0, "rename file into x\n");
  CHECK(access(P("x/moved.txt"), R_OK|W_OK) == 0, "access\n");
  CHECK(listhas(B, "x") == 1, "opendir(%s) lists x\n", B);
  CHECK(listhas("/", "dev") == 1, "opendir(/) lists dev\n");
  if (strcmp(B, "/")) CHECK(listhas("/", B+1) == 1, "opendir(/) lists %s\n", B+1);
  CHECK(listhas("/dev", "null") == 1 && listhas("/dev", "stdin") == 1 && listhas("/dev", "urandom") == 1, "opendir(/dev)\n");
  // cwd
  CHECK(chdir(P("x")) == 0, "chdir %s\n", P("x"));
  CHECK(getcwd(buf, sizeof buf) && !strcmp(buf, P("x")), "getcwd = %s\n", buf);
  fd = open("rel.txt", O_CREAT|O_WRONLY, 0644); CHECK(fd >= 0, "open relative after chdir\n"); close(fd);
  CHECK(stat(P("x/rel.txt"), &st) == 0, "relative file is at x/rel.txt\n");
  CHECK(chdir("z") == 0 && getcwd(buf, sizeof buf) && !strcmp(buf, P("x/z")), "chdir z relative: %s\n", buf);
  CHECK(chdir("..") == 0 && getcwd(buf, sizeof buf) && !strcmp(buf, P("x")), "chdir ..: %s\n", buf);
  CHECK(stat("../x/moved.txt", &st) == 0 && st.st_size == 6, "stat ../x/moved.txt size 6\n");
  CHECK(chdir("/") == 0 && getcwd(buf, sizeof buf) && !strcmp(buf, "/"), "chdir /\n");
  CHECK(chdir("/..") == 0 && getcwd(buf, sizeof buf) && !strcmp(buf, "/"), "chdir /.. stays /\n");
  CHECK(opendir(".") != NULL, "opendir(.) at /\n");
  // realpath + symlinks
  char *r = realpath(P("x/../x/z"), NULL);
  CHECK(r && !strcmp(r, P("x/z")), "realpath = %s\n", r ? r : "(null)");
  CHECK(symlink(P("x/z"), P("lnk")) == 0, "symlink abs target\n");
  ssize_t n = readlink(P("lnk"), buf, sizeof buf); if (n >= 0) buf[n] = 0;
  CHECK(n > 0 && !strcmp(buf, P("x/z")), "readlink = %s\n", n > 0 ? buf : "");
  CHECK(stat(P("lnk"), &st) == 0 && S_ISDIR(st.st_mode), "stat through abs symlink\n");
  CHECK(lstat(P("lnk"), &st) == 0 && S_ISLNK(st.st_mode), "lstat symlink\n");
  fd = open(P("lnk/f"), O_CREAT|O_WRONLY, 0644); CHECK(fd >= 0, "create through symlink\n"); close(fd);
  CHECK(stat(P("x/z/f"), &st) == 0, "file landed in x/z\n");
  r = realpath(P("lnk/f"), NULL);
  CHECK(r && !strcmp(r, P("x/z/f")), "realpath through symlink = %s\n", r ? r : "(null)");
  CHECK(symlink("z", P("x/rl")) == 0 && stat(P("x/rl/f"), &st) == 0, "relative symlink\n");
  CHECK(symlink("/etc/passwd", P("bad")) == 0, "symlink to /etc/passwd\n");
  CHECK(open(P("bad"), O_RDONLY) == -1 && errno == ENOENT, "open(bad) ENOENT (guest /etc)\n");
  CHECK(open("/etc/passwd", O_RDONLY) == -1, "open /etc/passwd fails\n");
  CHECK(link(P("x/moved.txt"), P("hard.txt")) == 0, "link\n");
  CHECK(stat(P("hard.txt"), &st) == 0 && st.st_nlink == 2, "nlink 2\n");
  struct timeval tv[2] = {{1000, 0}, {2000, 0}};
  CHECK(utimes(P("hard.txt"), tv) == 0 && stat(P("hard.txt"), &st) == 0 && st.st_mtime == 2000, "utimes\n");
  CHECK(truncate(P("hard.txt"), 2) == 0 && stat(P("hard.txt"), &st) == 0 && st.st_size == 2, "truncate\n");
  CHECK(unlink(P("hard.txt")) == 0, "unlink\n");
  CHECK(rmdir(P("x")) == -1 && errno == ENOTEMPTY, "rmdir nonempty ENOTEMPTY\n");
  CHECK(unlink(P("x/z/f")) == 0 && rmdir(P("x/z")) == 0, "unlink+rmdir\n");
  // fd-relative *at calls with an absolute path and a non-root dirfd
  int dfd = open(P("x"), O_RDONLY|O_DIRECTORY); CHECK(dfd >= 0, "open dir\n");
  CHECK(fstatat(dfd, "moved.txt", &st, 0) == 0, "fstatat relative\n");
  CHECK(fstatat(dfd, P("x/moved.txt"), &st, 0) == 0, "fstatat absolute with dirfd\n");
  CHECK(mkdirat(dfd, "sub", 0755) == 0 && stat(P("x/sub"), &st) == 0, "mkdirat\n");
  CHECK(renameat(dfd, "sub", AT_FDCWD, P("sub2")) == 0 && stat(P("sub2"), &st) == 0, "renameat across dirs\n");
  CHECK(chdir(P("x")) == 0, "chdir x again\n");
  close(dfd);
  // /dev
  fd = open("/dev/null", O_WRONLY); CHECK(fd >= 0 && write(fd, "x", 1) == 1, "/dev/null\n"); close(fd);
  fd = open("/dev/zero", O_RDONLY); CHECK(fd >= 0 && read(fd, buf, 4) == 4 && buf[0] == 0, "/dev/zero\n"); close(fd);
  fd = open("/dev/urandom", O_RDONLY); CHECK(fd >= 0 && read(fd, buf, 16) == 16, "/dev/urandom\n"); close(fd);
  fd = open("/dev/stderr", O_WRONLY); CHECK(fd >= 0 && write(fd, "to stderr\n", 10) == 10, "/dev/stderr\n"); close(fd);
  fd = open("/dev/fd/1", O_WRONLY); CHECK(fd >= 0, "/dev/fd/1\n"); close(fd);
  CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "stat /dev/null chr\n");
  // escapes
  CHECK(stat("/../../../../etc/passwd", &st) == -1, "../../etc/passwd\n");
  CHECK(stat("/proc/self/environ", &st) == -1, "/proc\n");
  printf("%s: %d failures\n", B, fails);
  return fails != 0;
}
