/* The WASIX (wasix_32v1) test workload of the shim's end-to-end test.
 * Usage:
 *   server exit N     exit with N
 *   server PORT       listen on 127.0.0.1:PORT with WASIX sockets, print
 *                     "listening PORT", answer every HTTP request with
 *                     "hello from wasix\n" */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WASIX(name) __attribute__((import_module("wasix_32v1"), import_name(name)))

/* wasix addr_port: tag (1 = INET4), pad, port (as wasix-libc passes it),
 * address, padding up to the 20 bytes the host reads. */
typedef struct {
	uint8_t tag, pad, port[2], addr[16], rest[90];
} addr_port;

WASIX("sock_open") uint16_t wx_sock_open(uint32_t af, uint32_t type, uint32_t proto, uint32_t *fd);
WASIX("sock_bind") uint16_t wx_sock_bind(uint32_t fd, const addr_port *a);
WASIX("sock_listen") uint16_t wx_sock_listen(uint32_t fd, uint32_t backlog);
WASIX("sock_accept_v2") uint16_t wx_sock_accept_v2(uint32_t fd, uint32_t flags, uint32_t *nfd, addr_port *peer);
WASIX("sock_set_opt_flag") uint16_t wx_sock_set_opt_flag(uint32_t fd, uint32_t opt, uint32_t v);

int main(int argc, char **argv) {
	if (argc == 3 && strcmp(argv[1], "exit") == 0)
		return atoi(argv[2]);
	if (argc != 2) {
		fprintf(stderr, "usage: server PORT | server exit N\n");
		return 2;
	}
	int port = atoi(argv[1]);
	uint32_t fd;
	uint16_t e = wx_sock_open(1, 1, 0, &fd);
	if (e) {
		fprintf(stderr, "sock_open: %d\n", e);
		return 3;
	}
	wx_sock_set_opt_flag(fd, 2 /* reuse address */, 1);
	addr_port a;
	memset(&a, 0, sizeof a);
	a.tag = 1;
	a.port[0] = port & 0xff;
	a.port[1] = port >> 8;
	a.addr[0] = 127;
	a.addr[3] = 1;
	if ((e = wx_sock_bind(fd, &a)) || (e = wx_sock_listen(fd, 16))) {
		fprintf(stderr, "bind/listen: %d\n", e);
		return 3;
	}
	printf("listening %d\n", port);
	fflush(stdout);
	for (;;) {
		uint32_t c;
		addr_port peer;
		if ((e = wx_sock_accept_v2(fd, 0, &c, &peer))) {
			fprintf(stderr, "accept: %d\n", e);
			return 3;
		}
		char buf[4096];
		size_t got = 0;
		while (got < sizeof buf - 1) {
			ssize_t n = read(c, buf + got, sizeof buf - 1 - got);
			if (n <= 0)
				break;
			got += n;
			buf[got] = 0;
			if (strstr(buf, "\r\n\r\n"))
				break;
		}
		const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 17\r\nConnection: close\r\n\r\nhello from wasix\n";
		write(c, resp, strlen(resp));
		close(c);
	}
}
