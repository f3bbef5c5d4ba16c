// Idle waiters built with real wasix-libc. argv[1]: what to wait on; argv[2] (optional): ms after
// which a helper thread makes the event happen (0 = never).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <poll.h>
#include <time.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int wakefd = -1, wakeafter = 0, wakeport = 0;
static const char *mode;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

static void *parker(void *arg) { // a tokio worker with nothing to do
  pthread_mutex_lock(&mu);
  if (arg) { struct timespec t; clock_gettime(CLOCK_REALTIME, &t); t.tv_sec += 3600; pthread_cond_timedwait(&cv, &mu, &t); }
  else pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  return 0;
}
static void *waker(void *arg) {
  usleep(wakeafter * 1000);
  if (!strcmp(mode, "listen")) {
    int c = socket(AF_INET, SOCK_STREAM, 0); struct sockaddr_in a = {0}; a.sin_family = AF_INET;
    a.sin_port = htons(wakeport); a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c, (void*)&a, sizeof a)) perror("connect");
  } else if (!strcmp(mode, "eventfd") || !strcmp(mode, "mio")) { eventfd_write(wakefd, 1); }
  else write(wakefd, "x", 1);
  return 0;
}

int main(int argc, char **argv) {
  mode = argv[1]; wakeafter = argc > 2 ? atoi(argv[2]) : 0;
  struct pollfd pf[4]; int n = 0;
  if (!strcmp(mode, "eventfd") || !strcmp(mode, "mio")) {
    int e = eventfd(0, EFD_NONBLOCK|EFD_CLOEXEC); if (e < 0) { perror("eventfd"); return 1; }
    wakefd = e; pf[n].fd = e; pf[n++].events = POLLIN;
  }
  if (!strcmp(mode, "pipe")) { int p[2]; pipe(p); wakefd = p[1]; pf[n].fd = p[0]; pf[n++].events = POLLIN; }
  if (!strcmp(mode, "sock")) { int sv[2]; socketpair(AF_UNIX, SOCK_STREAM, 0, sv); wakefd = sv[1]; pf[n].fd = sv[0]; pf[n++].events = POLLIN; }
  if (!strcmp(mode, "listen") || !strcmp(mode, "mio")) {
    int l = socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK, 0); struct sockaddr_in a = {0}; a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, (void*)&a, sizeof a) || listen(l, 8)) { perror("listen"); return 1; }
    socklen_t al = sizeof a; getsockname(l, (void*)&a, &al); wakeport = ntohs(a.sin_port);
    pf[n].fd = l; pf[n++].events = POLLIN;
  }
  if (!strcmp(mode, "mio")) {
    pthread_t t; for (int i = 0; i < 3; i++) pthread_create(&t, 0, parker, 0);
    pthread_create(&t, 0, parker, (void*)1);
  }
  if (!strcmp(mode, "futex")) { pthread_t t; pthread_create(&t, 0, parker, (void*)1); parker(0); return 0; }
  if (wakeafter) { pthread_t t; pthread_create(&t, 0, waker, 0); }
  printf("ready %d\n", getpid()); fflush(stdout);
  double t0 = now();
  int r = poll(pf, n, -1);
  double t1 = now();
  printf("poll=%d revents=%x after %.1f ms (wake at %d ms)\n", r, pf[0].revents | (n > 1 ? pf[1].revents : 0), (t1 - t0) * 1000, wakeafter);
  return 0;
}
