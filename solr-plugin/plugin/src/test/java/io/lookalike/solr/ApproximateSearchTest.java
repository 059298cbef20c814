package io.lookalike.solr;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.function.IntPredicate;
import java.util.stream.IntStream;
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
      assertU(
          adoc(
              "id", Integer.toString(i),
              "vec4cells", TestVectors.json(vector),
              "category", category(i)));
    }
    assertU(commit());
    assertU(optimize()); // one segment: the widening tests count cells over the whole index
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

  /**
   * A filter keeping 3 of the 150 documents (2%) widens one probe to every cell: the filtered
   * documents are ranked exactly, where the nearest cell alone would hold about a quarter of them.
   */
  @Test
  public void testASelectiveFilterRanksItsDocumentsExactly() throws Exception {
    for (int iteration = 0; iteration < 10; iteration++) {
      float[] query = TestVectors.random(random(), 4);
      assertEquals(ranked(query, i -> category(i).equals("rare")), probeOne(query, "category:rare"));
    }
  }

  /**
   * A filter keeping half of the documents widens one probe to the two nearest cells: about as
   * many candidates as one cell holds unfiltered.
   */
  @Test
  public void testAFilterOfHalfTheDocumentsProbesTwiceTheCells() throws Exception {
    for (int iteration = 0; iteration < 10; iteration++) {
      float[] query = TestVectors.random(random(), 4);
      List<Integer> nearest = cellsByDistance(query).subList(0, 2);
      List<String> expected =
          ranked(
              query,
              i -> category(i).equals("half") && nearest.contains(nearestCell(VECTORS.get(i))));
      assertEquals(expected, probeOne(query, "category:half"));
    }
  }

  /** A filter that keeps every document narrows nothing: one probe is still one cell. */
  @Test
  public void testAFilterOfEveryDocumentProbesTheCellsAsked() throws Exception {
    float[] query = TestVectors.random(random(), 4);
    String qv = TestVectors.json(query);
    assertEquals(
        ids(select("q", "{!visual f=vec4cells probe=1 v=$qv}", "qv", qv, "rows", "1000")),
        probeOne(query, "id:*"));
  }

  /** The ids of {@code probe=1} under the filter {@code fq}, every hit. */
  private static List<String> probeOne(float[] query, String fq) throws Exception {
    return ids(
        select(
            "q", "{!visual f=vec4cells probe=1 v=$qv}",
            "qv", TestVectors.json(query),
            "fq", fq,
            "rows", "1000"));
  }

  @Test
  public void testTheProbeWidensByHowMuchNarrowerTheLeadIs() {
    CellProbe two = new CellProbe(new int[] {3, 1, 0, 2, 4, 5, 6, 7, 8, 9}, 2);
    assertEquals(2, two.widened(1000, 1000));
    assertEquals(2, two.widened(1000, Long.MAX_VALUE));
    assertEquals(4, two.widened(1000, 500));
    assertEquals(5, two.widened(1000, 400)); // 2000 / 400: half of the cells
    assertEquals(10, two.widened(1000, 300)); // ceil(6.67), more than half: every cell
    assertEquals(10, two.widened(1000, 10));
    assertEquals(10, two.widened(1000, 0));
    assertTrue(two.isEveryCell(two.widened(1000, 10)));
    assertEquals(List.of("3", "1", "0"), Arrays.stream(two.terms(3)).map(BytesRef::utf8ToString).toList());
  }

  @Test
  public void testCellsAreAPartOfTheQueryIdentity() {
    float[] target = {1, 2, 3, 4};
    VisualQuery exact = new VisualQuery("vec4cells", target, Float.POSITIVE_INFINITY);
    CellProbe two = new CellProbe(new int[] {2, 0, 1, 3}, 2);
    VisualQuery probed = new VisualQuery("vec4cells", target, Float.POSITIVE_INFINITY, VisualScore.RANK, two);
    assertNotEquals(exact, probed);
    CellProbe sameTwo = new CellProbe(new int[] {2, 0, 1, 3}, 2);
    VisualQuery again = new VisualQuery("vec4cells", target, Float.POSITIVE_INFINITY, VisualScore.RANK, sameTwo);
    assertEquals(probed, again);
    assertEquals(probed.hashCode(), again.hashCode());
    CellProbe otherOrder = new CellProbe(new int[] {2, 1, 0, 3}, 2);
    assertNotEquals(
        probed,
        new VisualQuery("vec4cells", target, Float.POSITIVE_INFINITY, VisualScore.RANK, otherOrder));
    CellProbe three = new CellProbe(new int[] {2, 0, 1, 3}, 3);
    assertNotEquals(
        probed,
        new VisualQuery("vec4cells", target, Float.POSITIVE_INFINITY, VisualScore.RANK, three));
    assertTrue(probed.toString(), probed.toString().contains("cells=2/4"));
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

  /** 3 documents of 150 are rare, half of them (the even ones, rare ones included) half. */
  private static String category(int i) {
    return i % 50 == 0 ? "rare" : i % 2 == 0 ? "half" : "other";
  }

  /** The ids of the documents that {@code keep} keeps, nearest to {@code query} first. */
  private static List<String> ranked(float[] query, IntPredicate keep) {
    return IntStream.range(0, VECTORS.size())
        .filter(keep)
        .boxed()
        .sorted(Comparator.comparingDouble((Integer i) -> TestVectors.sqdistFloat(VECTORS.get(i), query)))
        .map(i -> Integer.toString(i))
        .toList();
  }

  /** The cells, nearest centroid (on the first two components) first, the first on ties. */
  private static List<Integer> cellsByDistance(float[] vector) {
    return IntStream.range(0, CENTROIDS.length)
        .boxed()
        .sorted(Comparator.comparingDouble((Integer c) -> cellDistance(vector, c)))
        .toList();
  }

  private static double cellDistance(float[] vector, int c) {
    double dx = (double) vector[0] - CENTROIDS[c][0];
    double dy = (double) vector[1] - CENTROIDS[c][1];
    return dx * dx + dy * dy;
  }

  /** The cell the plugin puts a vector in: the nearest centroid on the first two components. */
  private static int nearestCell(float[] vector) {
    return cellsByDistance(vector).get(0);
  }
}
