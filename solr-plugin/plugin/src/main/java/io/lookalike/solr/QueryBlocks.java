package io.lookalike.solr;

/**
 * The query's side of a {@link VectorSketch} bound, for the sketches of components {@code from} to
 * {@code from + dimensions}: each block of {@link VectorSketch#BLOCK} query components centred on
 * its own mean {@code m}, computed once per query and sketch stage, not per document.
 *
 * <p>The centred components {@code u_i = q_i - m} are rounded to float, for the kernel's dot
 * product with the codes; the bound is then exact for the point {@code q' = m + u}, and {@code ||q
 * - q'||}, at most {@code 2^-24 ||u||} (a rounding to nearest of each {@code q_i - m}, exact where
 * it is subnormal), joins the block's radius: {@code ||q - x|| >= ||q' - y|| - ||x - y|| - ||q -
 * q'||}. The squares and the sum of the {@code u_i} are summed in double, whose roundings (below
 * {@code 2^-46} relative) the sketch's slack covers many times over.
 */
final class QueryBlocks {

  private final float[] query; // by identity: the query point these blocks were made from
  private final int from;
  private final float[] centred;
  private final float[] centres;
  private final double[] squares;
  private final double[] sums;
  private final double[] radii;

  QueryBlocks(float[] query, int from, int dimensions) {
    this.query = query;
    this.from = from;
    int blocks = VectorSketch.blocks(dimensions);
    centred = new float[dimensions];
    centres = new float[blocks];
    squares = new double[blocks];
    sums = new double[blocks];
    radii = new double[blocks];
    for (int block = 0; block < blocks; block++) {
      int start = block * VectorSketch.BLOCK;
      int end = Math.min(start + VectorSketch.BLOCK, dimensions);
      double total = 0;
      for (int i = start; i < end; i++) {
        total += query[from + i];
      }
      float centre = (float) (total / (end - start));
      for (int i = start; i < end; i++) {
        float u = query[from + i] - centre;
        centred[i] = u;
        squares[block] += (double) u * u;
        sums[block] += u;
      }
      centres[block] = centre;
      // 2^-23 >= 2^-24 (1 + 2^-46), the rounding of u_i and of the sum of squares
      radii[block] = 0x1p-23 * Math.sqrt(squares[block]) + VectorSketch.UNDERFLOW_GAP;
    }
  }

  /** These blocks, or new ones when they were made for another query point or stage. */
  static QueryBlocks of(QueryBlocks blocks, float[] query, int from, int dimensions) {
    return blocks != null && blocks.isFor(query, from, dimensions)
        ? blocks
        : new QueryBlocks(query, from, dimensions);
  }

  boolean isFor(float[] query, int from, int dimensions) {
    return this.query == query && this.from == from && centred.length == dimensions;
  }

  /** How many components the blocks cover. */
  int dimensions() {
    return centred.length;
  }

  /** The centred components {@code u}, from the first covered one. */
  float[] centred() {
    return centred;
  }

  /** Block {@code block}'s centre {@code m}. */
  float centre(int block) {
    return centres[block];
  }

  /** {@code ||u||^2} over block {@code block}. */
  double squares(int block) {
    return squares[block];
  }

  /** {@code sum(u)} over block {@code block}. */
  double sum(int block) {
    return sums[block];
  }

  /**
   * What block {@code block} adds to the sketch's error norm: {@code ||q - q'||}, rounded up, and
   * {@link VectorSketch#UNDERFLOW_GAP}.
   */
  double radius(int block) {
    return radii[block];
  }
}
