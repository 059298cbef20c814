package io.lookalike.solr;

import java.util.Arrays;
import java.util.Objects;

/**
 * Exact visual search: matches the documents that have a vector in {@code field} (optionally only
 * those within {@code maxDist}) and scores them by their squared Euclidean distance {@code d} to
 * {@code target}, as {@link VisualScore} says: by default an exact order key of {@code d}, or
 * {@code boost / (1 + d)} for hybrid sums.
 *
 * <p>Either score is decreasing in {@code d}, needs no corpus statistics, and, since the distance
 * is bit-identical everywhere (see {@link SquaredDistance}), it is identical on every shard: with
 * ties broken by unique key, distributed top-k merges exactly like a single index.
 *
 * <p>The search is brute force over the vectors that survive the other clauses: unlike HNSW it
 * never misses a neighbour, and it composes with filters at no extra cost since Lucene only asks it
 * about documents the filters accepted (see {@link VisualScorer}).
 */
public final class VisualQuery extends AbstractVisualQuery {

  final float[] target;
  final float maxDist;
  final VisualScore score;

  /** The cells an approximate query ranks the documents of; null for the exact search. */
  final CellProbe probe;

  /**
   * @param field the {@link ImageVectorField} to search
   * @param target the query vector; its length is the dimension
   * @param maxDist the largest squared distance that matches, or {@code Float.POSITIVE_INFINITY}
   *     for no threshold
   */
  public VisualQuery(String field, float[] target, float maxDist) {
    this(field, target, maxDist, VisualScore.RANK, null);
  }

  /**
   * An approximate query when {@code probe} is not null: only documents in the probed coarse cells
   * (see {@link CellProbe}) are considered, ranked exactly among themselves.
   */
  VisualQuery(String field, float[] target, float maxDist, VisualScore score, CellProbe probe) {
    super(field);
    this.score = Objects.requireNonNull(score, "score");
    this.probe = probe;
    this.target = target.clone();
    if (Float.isNaN(maxDist) || maxDist < 0) {
      throw new IllegalArgumentException("maxDist must be >= 0, got " + maxDist);
    }
    // -0.0 and 0.0 are the same threshold and must be the same cache key
    this.maxDist = maxDist + 0f;
  }

  public float[] getTarget() {
    return target.clone();
  }

  public float getMaxDist() {
    return maxDist;
  }

  @Override
  int dimension() {
    return target.length;
  }

  @Override
  boolean hasThreshold() {
    return maxDist != Float.POSITIVE_INFINITY;
  }

  @Override
  CellProbe probe() {
    return probe;
  }

  @Override
  SegmentRanking ranking(ImageVectorValues values, float boost) {
    return new DistanceRanking(values, target, maxDist, score, boost);
  }

  @Override
  public String toString(String defaultField) {
    String threshold = maxDist == Float.POSITIVE_INFINITY ? "" : ", maxDist=" + maxDist;
    String approximate = probe == null ? "" : ", " + probe;
    return "visual("
        + field
        + ", dim="
        + target.length
        + ", score="
        + score
        + threshold
        + approximate
        + ", "
        + VectorFormat.abbreviate(target)
        + ")";
  }

  @Override
  public boolean equals(Object other) {
    return sameClassAs(other) && equalsTo(getClass().cast(other));
  }

  private boolean equalsTo(VisualQuery other) {
    return field.equals(other.field)
        && Float.compare(maxDist, other.maxDist) == 0
        && score == other.score
        && Arrays.equals(target, other.target)
        && Objects.equals(probe, other.probe);
  }

  @Override
  public int hashCode() {
    int h = classHash();
    h = 31 * h + field.hashCode();
    h = 31 * h + Float.hashCode(maxDist);
    h = 31 * h + score.ordinal();
    h = 31 * h + Arrays.hashCode(target);
    h = 31 * h + Objects.hashCode(probe);
    return h;
  }
}
