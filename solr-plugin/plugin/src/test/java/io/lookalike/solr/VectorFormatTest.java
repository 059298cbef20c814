package io.lookalike.solr;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.apache.solr.SolrTestCase;
import org.apache.solr.common.SolrException;
import org.junit.Test;

public class VectorFormatTest extends SolrTestCase {

  private static final float[] VECTOR = {1.0f, -2.0f, 0.5f, 0.0f};

  /** Little-endian float32 of VECTOR, from the shared examples (docs/vector-format.md). */
  private static final String BASE64 = "AACAPwAAAMAAAAA/AAAAAA==";

  @Test
  public void testParsesEveryAcceptedForm() {
    byte[] bytes = VectorFormat.toBytes(VECTOR);
    List<Object> forms =
        List.of(
            "[1, -2.0, 0.5, 0]",
            " [ 1.0 ,-2e0,\n5E-1, 0.0 ] ",
            BASE64,
            BASE64.replace("=", ""),
            List.of(1.0, -2L, 0.5f, 0),
            List.of("1", "-2", " 0.5", "0"),
            bytes,
            ByteBuffer.wrap(bytes),
            VECTOR.clone());
    for (Object form : forms) {
      float[] parsed = VectorFormat.parse(form, "f", 4);
      assertEquals(form.toString(), Arrays.toString(VECTOR), Arrays.toString(parsed));
    }
  }

  @Test
  public void testEncodesLittleEndianBase64() {
    assertEquals(BASE64, VectorFormat.toBase64(VECTOR));
    byte[] bytes = VectorFormat.toBytes(new float[] {1.0f});
    assertArrayEquals(new byte[] {0, 0, (byte) 0x80, 0x3f}, bytes);
    float[] random = TestVectors.random(random(), 37);
    assertArrayEquals(random, VectorFormat.parse(VectorFormat.toBase64(random), "v", 37), 0f);
    assertArrayEquals(random, VectorFormat.parse(TestVectors.json(random), "v", 37), 0f);
  }

  @Test
  public void testTextIsReadLikeJsonNumbers() {
    // 0.1 as a double narrowed to float, like the JSON loader: the same floats either way
    float[] parsed = VectorFormat.parse("[0.1]", "v", 1);
    assertEquals((float) 0.1d, parsed[0], 0f);
  }

  @Test
  public void testRejectsBadInputNamingTheSource() {
    assertBadRequest("[1, 2, 3]", "image_vector: expected 4 floats, got 3");
    assertBadRequest("[1, 2, NaN, 4]", "image_vector: component 2 is NaN");
    assertBadRequest("[1, -Infinity, 3, 4]", "image_vector: component 1 is -Infinity");
    assertBadRequest(List.of(1, 2, 3, Double.NaN), "image_vector: component 3 is NaN");
    assertBadRequest(new float[] {1, Float.POSITIVE_INFINITY, 0, 0}, "component 1 is Infinity");
    assertBadRequest("[1, 2, abc, 4]", "image_vector: component 2 is not a number: 'abc'");
    assertBadRequest(List.of("1", "2", "x", "4"), "component 2 is not a number: 'x'");
    assertBadRequest("[1, 2, 3, 4", "image_vector: malformed array: no closing ']'");
    assertBadRequest("[1, 2, 3,]", "component 3 is not a number: ''");
    assertBadRequest("AAC*AAAA", "image_vector: malformed base64");
    assertBadRequest("AACA PwAA", "was a '+' sent unencoded in a URL?");
    assertBadRequest("AACAPwAA", "image_vector: byte length 6 is not a multiple of 4");
    assertBadRequest(new byte[8], "image_vector: expected 4 floats, got 2");
    assertBadRequest(42L, "image_vector: expected 4 floats, got 1");
    assertBadRequest(Boolean.TRUE, "image_vector: expected a JSON array of numbers or a base64");
  }

  @Test
  public void testAbbreviatesLongVectors() {
    assertEquals("[1.0, -2.0, 0.5, ...]", VectorFormat.abbreviate(VECTOR));
    assertEquals("[1.0]", VectorFormat.abbreviate(new float[] {1}));
    assertEquals("[]", VectorFormat.abbreviate(new float[0]));
  }

  private static void assertBadRequest(Object value, String message) {
    SolrException e =
        expectThrows(SolrException.class, () -> VectorFormat.parse(value, "image_vector", 4));
    assertEquals(SolrException.ErrorCode.BAD_REQUEST.code, e.code());
    assertTrue(e.getMessage(), e.getMessage().contains(message));
  }
}
