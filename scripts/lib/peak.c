/*
 * peak: run a command (its output to /dev/null) and print its peak resident memory in KiB, its
 * wall time in nanoseconds and its exit code. A child's ru_maxrss includes the resident memory
 * of the process that forked it (the kernel carries the old image's high-water mark across
 * exec), so a Python harness would add its own 15 MiB; this launcher is small.
 *
 *   peak COMMAND [ARG...]
 *   peak -w DIR COMMAND [ARG...]   also print the nanoseconds from the start to the first file
 *                                  the command creates (or renames) in DIR, -1 if none: the
 *                                  node agent's time from exec to its first write
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000000000LL + (now.tv_nsec - start->tv_nsec);
}

int main(int argc, char **argv) {
    const char *watched = NULL;
    if (argc >= 3 && strcmp(argv[1], "-w") == 0) {
        watched = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: peak [-w DIR] COMMAND [ARG...]\n");
        return 2;
    }
    int notify = -1;
    if (watched) {
        notify = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (notify < 0 || inotify_add_watch(notify, watched, IN_CREATE | IN_MOVED_TO) < 0) {
            perror("peak: inotify");
            return 2;
        }
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pid_t child = fork();
    if (child < 0) {
        perror("peak: fork");
        return 2;
    }
    if (child == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    long long first = -1;
    if (watched) {
        /* Wait for the first event or the child's exit, whichever comes first. */
        int exited = (int)syscall(SYS_pidfd_open, child, 0);
        struct pollfd fds[2] = {{.fd = notify, .events = POLLIN}, {.fd = exited, .events = POLLIN}};
        while (poll(fds, exited >= 0 ? 2 : 1, -1) < 0) {
        }
        if (fds[0].revents & POLLIN)
            first = since(&start);
    }
    int status;
    struct rusage usage;
    if (wait4(child, &status, 0, &usage) < 0) {
        perror("peak: wait4");
        return 2;
    }
    long long ns = since(&start);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (watched)
        printf("%ld %lld %d %lld\n", usage.ru_maxrss, ns, code, first);
    else
        printf("%ld %lld %d\n", usage.ru_maxrss, ns, code);
    return 0;
}
