#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <wasi/api.h>

static int fails;
#define CHECK(c, ...) do { if (c) printf("ok   " __VA_ARGS__); else { fails++; printf("FAIL (errno %d %s) ", errno, strerror(errno)); printf(__VA_ARGS__); } } while (0)

int main(void) {
  int p[2];
  CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe2(O_CLOEXEC)\n");
  CHECK(fcntl(p[0], F_GETFD) == FD_CLOEXEC && fcntl(p[1], F_GETFD) == FD_CLOEXEC, "pipe2 fds have FD_CLOEXEC (%d)\n", fcntl(p[0], F_GETFD));
  CHECK(__wasi_fd_fdflags_set(p[0], 0) == 0 && fcntl(p[0], F_GETFD) == 0, "fd_fdflags_set 0 clears (libc F_SETFD always sets)\n");
  CHECK(fcntl(p[0], F_SETFD, FD_CLOEXEC) == 0 && fcntl(p[0], F_GETFD) == FD_CLOEXEC, "F_SETFD sets\n");
  errno = 0; CHECK(fsync(p[1]) == -1 && errno == EINVAL, "fsync(pipe) EINVAL\n");
  errno = 0; CHECK(fdatasync(p[1]) == -1 && errno == EINVAL, "fdatasync(pipe) EINVAL\n");
  CHECK(send(p[1], "abc", 3, 0) == 3, "send on pipe\n");
  char b[64]; CHECK(recv(p[0], b, sizeof b, 0) == 3 && !memcmp(b, "abc", 3), "recv on pipe\n");
  int q[2]; CHECK(pipe2(q, O_NONBLOCK) == 0 && (fcntl(q[0], F_GETFL) & O_NONBLOCK), "pipe2(O_NONBLOCK)\n");
  CHECK(read(q[0], b, 1) == -1 && errno == EAGAIN, "nonblocking empty read EAGAIN\n");
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0, sv) == 0, "socketpair(SOCK_CLOEXEC)\n");
  CHECK(fcntl(sv[0], F_GETFD) == FD_CLOEXEC, "socketpair FD_CLOEXEC (%d)\n", fcntl(sv[0], F_GETFD));
  CHECK(write(sv[0], "hi", 2) == 2 && read(sv[1], b, 2) == 2, "socketpair data\n");
  errno = 0; CHECK(fsync(sv[0]) == -1 && errno == EINVAL, "fsync(socket) EINVAL\n");
  // sendmsg/recvmsg plain
  struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
  struct msghdr m = {0}; m.msg_iov = iov; m.msg_iovlen = 2;
  CHECK(sendmsg(sv[0], &m, 0) == 4, "sendmsg iovecs\n");
  char r1[2], r2[8]; struct iovec riov[2] = {{r1, 2}, {r2, 8}}; struct msghdr rm = {0}; rm.msg_iov = riov; rm.msg_iovlen = 2;
  CHECK(recvmsg(sv[1], &rm, 0) == 4 && !memcmp(r1, "ab", 2) && !memcmp(r2, "cd", 2), "recvmsg iovecs\n");
  int s = socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK, 0);
  CHECK(s >= 0 && (fcntl(s, F_GETFL) & O_NONBLOCK), "socket(SOCK_NONBLOCK) F_GETFL\n");
  int s2 = socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0);
  CHECK(s2 >= 0 && fcntl(s2, F_GETFD) == FD_CLOEXEC && !(fcntl(s2, F_GETFL) & O_NONBLOCK), "socket(SOCK_CLOEXEC)\n");
  // IPV6_V6ONLY=0: v4 client reaches a [::] listener
  int l6 = socket(AF_INET6, SOCK_STREAM, 0); int zero = 0, one = 1;
  CHECK(l6 >= 0 && __wasi_sock_set_opt_flag(l6, __WASI_SOCK_OPTION_ONLY_V6, 0) == 0, "sock_set_opt_flag(ONLY_V6, 0) (libc setsockopt always passes 1)\n");
  int v = -1; socklen_t vl = sizeof v;
  CHECK(getsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl) == 0 && v == 0, "getsockopt V6ONLY=%d\n", v);
  setsockopt(l6, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in6 a6 = {0}; a6.sin6_family = AF_INET6; a6.sin6_addr = in6addr_any; a6.sin6_port = 0;
  CHECK(bind(l6, (void*)&a6, sizeof a6) == 0 && listen(l6, 4) == 0, "bind [::]:0 listen\n");
  socklen_t al = sizeof a6; getsockname(l6, (void*)&a6, &al);
  int port = ntohs(a6.sin6_port); printf("     port %d\n", port);
  int c4 = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a4 = {0}; a4.sin_family = AF_INET; a4.sin_port = htons(port); a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(connect(c4, (void*)&a4, sizeof a4) == 0, "v4 connect to v6 dual-stack listener\n");
  struct sockaddr_in6 pa; socklen_t pl = sizeof pa;
  int acc = accept(l6, (void*)&pa, &pl);
  char ab[INET6_ADDRSTRLEN] = "";
  if (acc >= 0) inet_ntop(AF_INET6, &pa.sin6_addr, ab, sizeof ab);
  CHECK(acc >= 0 && pa.sin6_family == AF_INET6, "accept peer %s\n", ab);
  // UDP connected recvfrom reports sender
  int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in ua = {0}; ua.sin_family = AF_INET; ua.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(u1, (void*)&ua, sizeof ua); bind(u2, (void*)&ua, sizeof ua);
  struct sockaddr_in n1, n2; socklen_t nl = sizeof n1; getsockname(u1, (void*)&n1, &nl); nl = sizeof n2; getsockname(u2, (void*)&n2, &nl);
  CHECK(connect(u1, (void*)&n2, sizeof n2) == 0, "udp connect\n");
  CHECK(sendto(u2, "dg", 2, 0, (void*)&n1, sizeof n1) == 2, "udp sendto\n");
  struct sockaddr_in from = {0}; socklen_t fl = sizeof from;
  ssize_t got = recvfrom(u1, b, sizeof b, 0, (void*)&from, &fl);
  CHECK(got == 2 && from.sin_family == AF_INET && from.sin_port == n2.sin_port && from.sin_addr.s_addr == htonl(INADDR_LOOPBACK), "recvfrom on connected UDP reports sender port %d (want %d) fam %d\n", ntohs(from.sin_port), ntohs(n2.sin_port), from.sin_family);
  printf("%d failures\n", fails);
  return fails != 0;
}
