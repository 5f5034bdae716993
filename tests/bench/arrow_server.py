"""The transfer benchmark's baseline: a pyarrow.flight server (Arrow's C++ Flight) that
answers any DoGet with the rows of an Arrow IPC file, repeated until `rows` rows.

    python arrow_server.py SAMPLE.arrow PORT ROWS
"""

import sys

import pyarrow as pa
import pyarrow.flight as flight


class Server(flight.FlightServerBase):
    def __init__(self, location, table, rows):
        super().__init__(location)
        self.table, self.rows = table, rows

    def do_get(self, context, ticket):
        batches = self.table.to_batches()

        def generate():
            left = self.rows
            while left > 0:
                for b in batches:
                    if left <= 0:
                        return
                    take = b if b.num_rows <= left else b.slice(0, left)
                    left -= take.num_rows
                    yield take

        return flight.GeneratorStream(self.table.schema, generate())


def main():
    path, port, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    table = pa.ipc.open_file(pa.memory_map(path)).read_all()
    server = Server(f"grpc://127.0.0.1:{port}", table, rows)
    print("ready", flush=True)
    server.serve()


if __name__ == "__main__":
    main()
