// A Java store for the drills' tests: the Python model's log format (CRC-32
// in hex, a space, "LSN OP KEY [VALUE]", LF), run as `java KvStore.java DIR`.
import java.io.*;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import java.util.zip.CRC32;

public class KvStore {
    static final Map<String, String> table = new HashMap<>();
    static long next = 1;
    static FileChannel log;

    static String crc(byte[] bytes, int from, int to) {
        CRC32 crc = new CRC32();
        crc.update(bytes, from, to - from);
        return String.format("%08x", crc.getValue());
    }

    static boolean valid(String token) {
        return token.length() >= 1 && token.length() <= 64 && token.chars().allMatch(c -> c >= '!' && c <= '~');
    }

    static String[] decode(byte[] data, int start, int end) {
        // end: the index after the record's LF, or the file's end.
        if (end - start < 10 || data[end - 1] != '\n' || data[start + 8] != ' ') return null;
        String stored = new String(data, start, 8, StandardCharsets.ISO_8859_1);
        if (!stored.equals(crc(data, start + 9, end))) return null;
        String[] f = new String(data, start + 9, end - start - 10, StandardCharsets.ISO_8859_1).split(" ", -1);
        if (f.length < 3 || !f[0].equals(Long.toString(next))) return null;
        if (f[1].equals("PUT") && f.length == 4 && valid(f[2]) && valid(f[3])) return f;
        if (f[1].equals("DEL") && f.length == 3 && valid(f[2])) return f;
        return null;
    }

    static void append(String body) throws IOException {
        byte[] bytes = (next + " " + body + "\n").getBytes(StandardCharsets.ISO_8859_1);
        byte[] record = (crc(bytes, 0, bytes.length) + " " + new String(bytes, StandardCharsets.ISO_8859_1)).getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer buffer = ByteBuffer.wrap(record);
        while (buffer.hasRemaining()) log.write(buffer, log.size());
        log.force(false);
        next++;
    }

    public static void main(String[] args) throws IOException {
        Path dir = Paths.get(args[args.length - 1]);
        Path path = dir.resolve("wal.log");
        boolean created = !Files.exists(path);
        log = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        if (created) {
            log.force(true);
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) { d.force(true); }
        }
        byte[] data = Files.readAllBytes(path);
        int offset = 0, skipped = 0;
        while (offset < data.length) {
            int end = offset;
            while (end < data.length && data[end] != '\n') end++;
            end = Math.min(end + 1, data.length);
            String[] f = decode(data, offset, end);
            if (f == null) {
                System.err.println("skipping corrupt record at offset " + offset);
                log.truncate(offset);
                log.force(true);
                skipped = 1;
                break;
            }
            if (f[1].equals("PUT")) table.put(f[2], f[3]); else table.remove(f[2]);
            next++;
            offset = end;
        }
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.ISO_8859_1);
        out.println("READY replayed " + (next - 1) + ", skipped " + skipped);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.ISO_8859_1));
        for (String line; (line = in.readLine()) != null; ) {
            String[] w = line.split(" ", -1);
            switch (w[0]) {
                case "CRASH" -> Runtime.getRuntime().halt(1);
                case "PUT", "WALPUT" -> {
                    append("PUT " + w[1] + " " + w[2]);
                    if (w[0].equals("PUT")) table.put(w[1], w[2]);
                    out.println("OK");
                }
                case "DEL" -> { append("DEL " + w[1]); table.remove(w[1]); out.println("OK"); }
                case "GET" -> out.println(table.containsKey(w[1]) ? "VALUE " + table.get(w[1]) : "NOT_FOUND");
                default -> out.println("ERR bad request");
            }
        }
        log.close();
    }
}
