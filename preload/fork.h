/* fork.h - fork handling (fork.c). */
#ifndef INTERCEPT_FORK_H
#define INTERCEPT_FORK_H

/*! fork_install() : register the pthread_atfork handlers. Called once by the constructor. */
void fork_install(void);

#endif /* INTERCEPT_FORK_H */
