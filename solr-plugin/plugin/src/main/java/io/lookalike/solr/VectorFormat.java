package io.lookalike.solr;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.regex.Pattern;
import org.apache.solr.common.SolrException;

/**
 * The wire format of an image vector (docs/vector-format.md): a float32 vector travels either as a
 * JSON array of numbers or as base64 (standard alphabet, padding optional) of its little-endian
 * IEEE-754 bytes. The same bytes, without base64, are what the index holds.
 *
 * <p>Everything that accepts a vector from outside (documents, query parameters, function
 * arguments) goes through {@link #parse}, so a vector is valid or rejected the same way everywhere:
 * the right length, only finite components (a NaN would make every distance NaN and silently
 * break the ranking), and within {@link #MAX_SQUARED_NORM}, so that no distance overflows. Errors are {@code 400 Bad Request}, worded {@code "<name>: <problem>"} where
 * the name is the field or parameter the value came from.
 */
public final class VectorFormat {

  /** A JSON number (leading '+' and a bare trailing '.' tolerated). */
  private static final Pattern NUMBER =
      Pattern.compile("[+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?");

  /** How JSON writers (Python's json, JavaScript) spell non-finite floats. */
  private static final Pattern NON_FINITE = Pattern.compile("[+-]?(?:NaN|Infinity|inf)");

  /**
   * The largest squared norm a vector may have: the squared distance between two such vectors is
   * at most {@code (|q| + |x|)^2 = 2^126}, and the float roundings of its sum (below 2^-10 relative
   * for 16384 components) keep it below {@code Float.MAX_VALUE}, about 2^128; so do the sketch's
   * norms and dot products. Every distance and score is then finite.
   */
  static final double MAX_SQUARED_NORM = 0x1p124;

  /** The largest component magnitude, the root of {@link #MAX_SQUARED_NORM}. */
  static final float MAX_COMPONENT = 0x1p62f;

  /** How many leading components {@link #abbreviate} shows. */
  private static final int ABBREVIATED_LENGTH = 3;

  private VectorFormat() {}

  /**
   * Reads a vector from any form Solr hands over: a {@code String} (JSON array text or base64), a
   * {@code List} of numbers or numeric strings (what the JSON and XML loaders make of an array or a
   * repeated field), a single {@code Number} (a one-element array), a {@code byte[]} or {@code
   * ByteBuffer} of little-endian float32 (what doc values and javabin carry), or a {@code float[]}.
   *
   * @param value the value as received
   * @param name the field or parameter it came from, for error messages
   * @param dimension the number of components the vector must have
   * @return a fresh array of {@code dimension} finite floats
   * @throws SolrException with {@code BAD_REQUEST} if the value is malformed, of the wrong length
   *     or not finite
   */
  public static float[] parse(Object value, String name, int dimension) {
    final float[] vector;
    if (value instanceof float[]) {
      vector = ((float[]) value).clone();
    } else if (value instanceof byte[]) {
      vector = fromBytes(ByteBuffer.wrap((byte[]) value), name);
    } else if (value instanceof ByteBuffer) {
      vector = fromBytes(((ByteBuffer) value).duplicate(), name);
    } else if (value instanceof CharSequence) {
      vector = fromText(value.toString(), name);
    } else if (value instanceof List) {
      vector = fromList((List<?>) value, name);
    } else if (value instanceof Number) {
      vector = fromList(List.of(value), name);
    } else {
      throw BadRequest.of(
          name,
          "expected a JSON array of numbers or a base64 string, got "
              + (value == null ? "null" : value.getClass().getSimpleName()));
    }
    if (vector.length != dimension) {
      throw BadRequest.of(name, "expected " + dimension + " floats, got " + vector.length);
    }
    for (int i = 0; i < vector.length; i++) {
      if (Float.isFinite(vector[i]) == false) {
        throw BadRequest.of(
            name, "component " + i + " is " + vector[i] + "; only finite values are allowed");
      }
      if (Math.abs(vector[i]) > MAX_COMPONENT) {
        throw BadRequest.of(
            name,
            "component "
                + i
                + " is "
                + vector[i]
                + "; components are at most "
                + MAX_COMPONENT
                + " (2^62) in magnitude, so that distances stay finite in float32");
      }
    }
    int beyond = beyondSquaredNorm(vector);
    if (beyond >= 0) {
      throw BadRequest.of(
          name,
          "the squared norm exceeds "
              + (float) MAX_SQUARED_NORM
              + " (2^124) at component "
              + beyond
              + ", so distances could overflow float32; scale the vector down");
    }
    return vector;
  }

  /**
   * The component at which the running squared norm of {@code vector} (in double precision) first
   * exceeds {@link #MAX_SQUARED_NORM}, or -1 when it stays within it.
   */
  static int beyondSquaredNorm(float[] vector) {
    double norm = 0;
    for (int i = 0; i < vector.length; i++) {
      norm += (double) vector[i] * vector[i];
      if (norm > MAX_SQUARED_NORM) {
        return i;
      }
    }
    return -1;
  }

  /** The index and wire representation: {@code 4 * vector.length} bytes, little-endian float32. */
  public static byte[] toBytes(float[] vector) {
    ByteBuffer bytes = ByteBuffer.allocate(vector.length * Float.BYTES);
    bytes.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(vector);
    return bytes.array();
  }

  /** The vector's bytes as padded base64 with the standard alphabet. */
  public static String toBase64(float[] vector) {
    return toBase64(toBytes(vector), 0, vector.length * Float.BYTES);
  }

  /** {@code length} bytes from {@code offset} as padded base64 with the standard alphabet. */
  public static String toBase64(byte[] bytes, int offset, int length) {
    ByteBuffer encoded = Base64.getEncoder().encode(ByteBuffer.wrap(bytes, offset, length));
    return StandardCharsets.US_ASCII.decode(encoded).toString();
  }

  /**
   * A short human-readable form for {@code toString()} and descriptions, e.g. {@code [0.1, 0.2,
   * 0.3, ...]}: queries and functions get logged, and a whole vector would flood the logs.
   */
  public static String abbreviate(float[] vector) {
    StringBuilder sb = new StringBuilder("[");
    int shown = Math.min(vector.length, ABBREVIATED_LENGTH);
    for (int i = 0; i < shown; i++) {
      sb.append(i == 0 ? "" : ", ").append(vector[i]);
    }
    return sb.append(vector.length > shown ? ", ...]" : "]").toString();
  }

  private static float[] fromBytes(ByteBuffer bytes, String name) {
    if (bytes.remaining() % Float.BYTES != 0) {
      throw BadRequest.of(
          name,
          "byte length " + bytes.remaining() + " is not a multiple of 4 (little-endian float32)");
    }
    float[] vector = new float[bytes.remaining() / Float.BYTES];
    bytes.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(vector);
    return vector;
  }

  private static float[] fromText(String text, String name) {
    String trimmed = text.strip();
    if (trimmed.startsWith("[")) {
      if (trimmed.endsWith("]") == false) {
        throw BadRequest.of(name, "malformed array: no closing ']'");
      }
      String inner = trimmed.substring(1, trimmed.length() - 1).strip();
      return inner.isEmpty() ? new float[0] : fromList(List.of(inner.split(",", -1)), name);
    }
    final byte[] bytes;
    try {
      bytes = Base64.getDecoder().decode(trimmed);
    } catch (IllegalArgumentException e) {
      String hint =
          trimmed.indexOf(' ') >= 0 ? " (a space: was a '+' sent unencoded in a URL?)" : "";
      throw BadRequest.of(name, "malformed base64: " + e.getMessage() + hint);
    }
    return fromBytes(ByteBuffer.wrap(bytes), name);
  }

  private static float[] fromList(List<?> values, String name) {
    float[] vector = new float[values.size()];
    for (int i = 0; i < vector.length; i++) {
      vector[i] = toFloat(values.get(i), i, name);
    }
    return vector;
  }

  /**
   * Numeric text is read as a double and then narrowed, exactly like the JSON loader's numbers, so
   * a vector sent as text in a query and as JSON in a document gives the same floats.
   */
  private static float toFloat(Object value, int index, String name) {
    if (value instanceof Number) {
      return ((Number) value).floatValue();
    }
    String text = value == null ? "null" : value.toString().strip();
    if (NUMBER.matcher(text).matches()) {
      return (float) Double.parseDouble(text);
    }
    if (NON_FINITE.matcher(text).matches()) {
      throw BadRequest.of(
          name, "component " + index + " is " + text + "; only finite values are allowed");
    }
    throw BadRequest.of(name, "component " + index + " is not a number: '" + text + "'");
  }

}
