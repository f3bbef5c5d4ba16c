#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>
int main(void) {
  int l = socket(AF_INET, SOCK_STREAM, 0); struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(l, (void*)&a, sizeof a); listen(l, 4); printf("accepting\n"); fflush(stdout);
  int c = accept(l, 0, 0); printf("accepted %d\n", c); return 0;
}
