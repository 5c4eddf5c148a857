/**
 * A real Node socket error, as the MongoDB driver lets one out: a write to a socket whose peer has
 * closed its end fails with EPIPE ("This socket has been ended by the other party").
 */
import { once } from "node:events";
import { connect, createServer } from "node:net";

export async function realEpipe(): Promise<Error> {
  const server = createServer((s) => s.end());
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  const socket = connect(port, "127.0.0.1");
  try {
    await once(socket, "end");
    const failed = once(socket, "error");
    socket.write("hello");
    const [err] = (await failed) as [Error];
    return err;
  } finally {
    socket.destroy();
    server.close();
  }
}
