package io.lookalike.solr;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * Through Solr, sorted by a field: with {@code minExactCount} the collector's competitive iterator
 * (from the field's points) lets the visual query skip documents, counted in the core's {@code
 * QUERY.visual.vectorsRead}; an exact hit count reads every vector. Either way the page is the
 * brute force's.
 */
public class CompetitiveSortTest extends AbstractVisualTestCase {

  private static final int DOCS = 30_000;
  private static final Map<String, Integer> PRICE = new HashMap<>();

  @BeforeClass
  public static void indexOneSegment() throws Exception {
    initTestCore();
    StringBuilder json = new StringBuilder("[");
    for (int i = 0; i < DOCS; i++) {
      String id = String.format(Locale.ROOT, "d%05d", i);
      int price = random().nextInt(1_000_000);
      PRICE.put(id, price);
      String vector = VectorFormat.toBase64(TestVectors.random(random(), 16));
      json.append(i == 0 ? "" : ",")
          .append(String.format(Locale.ROOT, "{\"id\":\"%s\",\"price_i\":%d,\"vec16\":\"%s\"}", id, price, vector));
    }
    updateJ(json.append(']').toString(), params("commit", "true"));
    assertU(optimize()); // Lucene's numeric skipping works within a segment of many documents
  }

  @Test
  public void testMinExactCountLetsTheSortSkipVectors() throws Exception {
    List<String> expected = new ArrayList<>(PRICE.keySet());
    expected.sort(Comparator.comparing((String id) -> PRICE.get(id)).thenComparing(id -> id));
    String[] params = {
      "q", "{!visual f=vec16 maxDist=1e30 v=$qv}", // every document matches, through its distance
      "qv", VectorFormat.toBase64(new float[16]),
      "sort", "price_i asc, id asc",
      "rows", "10"
    };
    long before = vectorsRead();
    assertEquals(expected.subList(0, 10), ids(select(params)));
    long exact = vectorsRead() - before;
    assertEquals("an exact count reads every vector", DOCS, exact);
    before = vectorsRead();
    assertEquals(expected.subList(0, 10), ids(select(concat(params, new String[] {"minExactCount", "10"}))));
    long skipping = vectorsRead() - before;
    assertTrue("vectors read with minExactCount: " + skipping, skipping < DOCS / 4);
  }
}
