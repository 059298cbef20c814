package io.lookalike.solr;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.apache.lucene.util.BytesRef;
import org.apache.solr.common.SolrException.ErrorCode;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * The opt-in approximate mode, {@code {!visual probe=N}}, on a field whose type declares four
 * coarse cells over the first two components (test schema, cells-4x2.bin).
 */
public class ApproximateSearchTest extends AbstractVisualTestCase {

  private static final float[][] CENTROIDS = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
  private static final List<float[]> VECTORS = new ArrayList<>();

  @BeforeClass
  public static void indexRandomVectors() throws Exception {
    initTestCore();
    Random random = new Random(random().nextLong());
    for (int i = 0; i < 150; i++) {
      float[] vector = TestVectors.random(random, 4);
      VECTORS.add(vector);
      assertU(adoc("id", Integer.toString(i), "vec4cells", TestVectors.json(vector)));
    }
    assertU(commit());
  }

  @Test
  public void testProbingEveryCellIsTheExactSearch() throws Exception {
    for (int iteration = 0; iteration < 10; iteration++) {
      String query = TestVectors.json(TestVectors.random(random(), 4));
      List<String> exact = ids(select("q", "{!visual f=vec4cells v=$qv}", "qv", query));
      List<String> probed = ids(select("q", "{!visual f=vec4cells probe=9 v=$qv}", "qv", query));
      assertEquals(exact, probed);
    }
  }

  @Test
  public void testOneProbeRanksTheNearestCellExactly() throws Exception {
    for (int iteration = 0; iteration < 10; iteration++) {
      float[] query = TestVectors.random(random(), 4);
      int cell = nearestCell(query);
      List<String> expected = new ArrayList<>();
      for (int i = 0; i < VECTORS.size(); i++) {
        if (nearestCell(VECTORS.get(i)) == cell) {
          expected.add(Integer.toString(i));
        }
      }
      expected.sort(
          Comparator.comparingDouble(
              (String id) -> TestVectors.sqdistFloat(VECTORS.get(Integer.parseInt(id)), query)));
      List<String> probed =
          ids(
              select(
                  "q", "{!visual f=vec4cells probe=1 v=$qv}",
                  "qv", TestVectors.json(query),
                  "rows", "1000"));
      assertEquals(expected, probed);
    }
  }

  @Test
  public void testCellsAreAPartOfTheQueryIdentity() {
    float[] target = {1, 2, 3, 4};
    VisualQuery exact = new VisualQuery("vec4cells", target, Float.POSITIVE_INFINITY);
    BytesRef[] two = {new BytesRef("2"), new BytesRef("0")};
    VisualQuery probed = new VisualQuery("vec4cells", target, Float.POSITIVE_INFINITY, VisualScore.RANK, two);
    assertNotEquals(exact, probed);
    BytesRef[] sameTwo = {new BytesRef("0"), new BytesRef("2")};
    VisualQuery again = new VisualQuery("vec4cells", target, Float.POSITIVE_INFINITY, VisualScore.RANK, sameTwo);
    assertEquals(probed, again);
    assertEquals(probed.hashCode(), again.hashCode());
    assertTrue(probed.toString(), probed.toString().contains("cells=2"));
  }

  @Test
  public void testBadProbes() {
    for (String bad : new String[] {"0", "-3", "abc", "1.5"}) {
      assertQEx(
          "probe=" + bad,
          "probe: expected a number of cells >= 1, got '" + bad + "'",
          req("q", "{!visual f=vec4cells probe=" + bad + "}[1, 0, 0, 0]"),
          ErrorCode.BAD_REQUEST);
    }
    assertQEx(
        "probe on a field without cells",
        "probe: the field's type declares no coarse cells",
        req("q", "{!visual f=vec4 probe=2}[1, 0, 0, 0]"),
        ErrorCode.BAD_REQUEST);
  }

  /** The cell the plugin puts a vector in: the nearest centroid on the first two components. */
  private static int nearestCell(float[] vector) {
    int best = 0;
    double bestDistance = Double.POSITIVE_INFINITY;
    for (int c = 0; c < CENTROIDS.length; c++) {
      double dx = (double) vector[0] - CENTROIDS[c][0];
      double dy = (double) vector[1] - CENTROIDS[c][1];
      if (dx * dx + dy * dy < bestDistance) {
        bestDistance = dx * dx + dy * dy;
        best = c;
      }
    }
    return best;
  }
}
