package io.lookalike.solr;

import java.io.IOException;
import java.util.Arrays;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.util.IOSupplier;

/**
 * Upper bounds of the scores of one segment's documents, a block of {@link #BLOCK} doc ids at a
 * time: what {@link VisualScorer#advanceShallow} and {@link VisualScorer#getMaxScore} answer, so
 * that a boolean query's MaxScore or WAND skips the visual clause where it cannot score enough, as
 * in a hybrid {@code {!bool should=$vis should=$keywords}} that a keyword clause dominates.
 *
 * <p>A block's bound is the score of the least lower bound of its documents' keys ({@link
 * SegmentRanking#keyLowerBound}: the sketches' bound of a distance, or {@link LinearBound}'s of a
 * linear value), computed once per block from the sketches alone, with iterators of their own (the
 * scorer's may be behind). Scores never increase with the key, so no document of the block scores
 * more: the bound is exact, never below a real score. A document whose bound exceeds the scorer's
 * (the threshold, tightened by a minimum competitive score) cannot match and counts for nothing,
 * and bounds only tighten, so a block's cached maximum stays valid.
 */
final class BlockMaxScores {

  /**
   * Doc ids per block. Smaller blocks give tighter maxima (each the best of fewer documents) but
   * more windows for MaxScore to partition, each with a maximum per clause to look up. Measured on
   * 6000 clustered documents in one segment with 20 near neighbours of the query point (Lucene
   * 9.12), the vectors a keyword-dominated top-10 reads with blocks of 32, 64, 128, 256 and 512:
   * 273, 283, 327, 430, 675 (818 with a constant maximum), and a similarity-dominated one 2938,
   * 3240, 3747, 4612, 5489 (6000); 32 to 128 averaged over four seeds. Below 64 the gain flattens
   * while the windows keep doubling.
   */
  static final int BLOCK = 64;

  /**
   * Ranges of more blocks than this (4096 documents) get the ranking's maximum: bounding 4096
   * documents (about 150 bytes of sketch each) reads about as much as the 128 whole vectors (4 KB
   * each) that a keyword block spread that thin could save. It is also MaxScore's largest window,
   * and it keeps the maximum over a whole segment, which WAND asks for first, free.
   */
  static final int MAX_BLOCKS = 4096 / BLOCK;

  private final SegmentRanking ranking;
  private final IOSupplier<ImageVectorValues> vectors;
  private final int maxDoc;
  private ImageVectorValues ahead; // opened on first use

  // The maxima of the last blocks computed, by block modulo MAX_BLOCKS: a range spans at most
  // MAX_BLOCKS blocks and never starts before an earlier one, so what it needs is still here.
  private final int[] cachedBlocks = new int[MAX_BLOCKS];
  private final float[] cachedMaxima = new float[MAX_BLOCKS];
  private int frontier; // the first block after those computed: the iterators are past the rest

  /**
   * @param vectors opens the segment's vectors anew, for iterators of their own
   */
  BlockMaxScores(SegmentRanking ranking, IOSupplier<ImageVectorValues> vectors, int maxDoc) {
    this.ranking = ranking;
    this.vectors = vectors;
    this.maxDoc = maxDoc;
    Arrays.fill(cachedBlocks, -1);
  }

  /** The last doc id of the block of {@code target}; {@code NO_MORE_DOCS} past the segment. */
  int blockEnd(int target) {
    long end = ((long) target / BLOCK + 1) * BLOCK - 1;
    return target >= maxDoc ? DocIdSetIterator.NO_MORE_DOCS : (int) Math.min(end, maxDoc - 1);
  }

  /**
   * An upper bound of the scores of the documents {@code from} to {@code upTo} (inclusive) that
   * match within {@code bound}; {@code from} must never decrease from one call to the next.
   */
  float maxScore(int from, int upTo, float bound) throws IOException {
    int first = Math.max(from, 0) / BLOCK;
    int last = Math.min(upTo, maxDoc - 1) / BLOCK;
    if (last < first || last - first >= MAX_BLOCKS) {
      return ranking.maxScore();
    }
    float max = 0f;
    for (int block = first; block <= last && max < ranking.maxScore(); block++) {
      max = Math.max(max, blockMax(block, bound));
    }
    return max;
  }

  private float blockMax(int block, float bound) throws IOException {
    int slot = block % MAX_BLOCKS;
    if (cachedBlocks[slot] == block) {
      return cachedMaxima[slot];
    }
    if (block < frontier) { // passed by an earlier range; by the contract, never asked about again
      return ranking.maxScore();
    }
    float max = compute(block, bound);
    cachedBlocks[slot] = block;
    cachedMaxima[slot] = max;
    frontier = block + 1;
    return max;
  }

  /** The score of the least key bound within {@code bound} in {@code block}; 0 for none. */
  private float compute(int block, float bound) throws IOException {
    if (ahead == null) {
      ahead = vectors.get();
    }
    DocIdSetIterator docs = ahead.iterator();
    int start = block * BLOCK;
    int end = (int) Math.min((long) start + BLOCK, maxDoc);
    int doc = docs.docID() < start ? docs.advance(start) : docs.docID();
    float least = Float.POSITIVE_INFINITY;
    float max = 0f;
    // once a document may score the maximum, no other one can raise the block's bound
    for (; doc < end && max < ranking.maxScore(); doc = docs.nextDoc()) {
      float key = ranking.keyLowerBound(ahead, Math.min(least, bound));
      if (key < least && key <= bound) {
        least = key;
        max = Math.min(ranking.maxScore(), ranking.score(least));
      }
    }
    return max;
  }
}
