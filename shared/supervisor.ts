/**
 * Telling a process supervisor that waits for it that this process is ready: pm2 with `wait_ready`
 * (infra/pm2/ecosystem.config.cjs) starts the next process of a rolling reload only then. The signal
 * is pm2's: the message "ready" on the IPC channel. Without one (plain node, containers), nothing.
 */
export function signalReadyWhen(ready: () => boolean, intervalMs = 100): void {
  if (!process.send) return;
  // Readiness has no event of its own (the tail going live is a state): look until it holds.
  const check = () => {
    if (ready()) process.send?.("ready");
    else setTimeout(check, intervalMs).unref();
  };
  check();
}

/**
 * pm2 with `shutdown_with_message` asks a process to stop with the IPC message "shutdown" instead of
 * a signal (its signal is SIGINT, which the components take as "stop now"). The message is handled as
 * SIGTERM, whatever SIGTERM does in that component (drain, then exit).
 */
export function stopOnSupervisorRequest(): void {
  if (!process.send) return;
  process.on("message", (message) => {
    if (message === "shutdown") process.emit("SIGTERM", "SIGTERM");
  });
}
