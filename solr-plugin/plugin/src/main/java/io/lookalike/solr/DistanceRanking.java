package io.lookalike.solr;

import java.io.IOException;
import org.apache.lucene.search.Explanation;

/**
 * {@link VisualQuery}'s ranking of one segment: the key is the squared Euclidean distance to the
 * query point, and the score the query's {@link VisualScore} of it. Distances beyond the bound are
 * abandoned part-way, or ruled out by the sketch (see {@link ImageVectorValues#squaredDistance}).
 */
final class DistanceRanking extends SegmentRanking {

  private final float[] target;
  private final float maxDist;
  private final VisualScore form;
  private final float boost;

  DistanceRanking(
      ImageVectorValues values, float[] target, float maxDist, VisualScore form, float boost) {
    super(values);
    this.target = target;
    this.maxDist = maxDist;
    this.form = form;
    this.boost = boost;
  }

  @Override
  float threshold() {
    return maxDist;
  }

  @Override
  float bound(float minScore) {
    return form.bound(maxDist, boost, minScore);
  }

  @Override
  float key(float bound) throws IOException {
    return values.squaredDistance(target, bound);
  }

  @Override
  int screen(int[] docs, int count, float bound) throws IOException {
    return values.screen(docs, count, target, bound);
  }

  @Override
  float keyScreened(int i, float bound) throws IOException {
    return values.squaredDistanceScreened(i, target, bound);
  }

  /** The sketches' bound, 0 without sketches: distances are never negative. */
  @Override
  float keyLowerBound(ImageVectorValues ahead, float limit) throws IOException {
    return ahead.sketchLowerBound(target, limit);
  }

  @Override
  boolean hasKeyBounds() {
    return values.hasSketches();
  }

  @Override
  float score(float distance) {
    return form.score(boost, distance);
  }

  /** Distances are non-negative, so no document scores above that of distance 0. */
  @Override
  float maxScore() {
    return form.score(boost, 0f);
  }

  /**
   * A subtraction and a multiply-add per component of the whole vector; with a threshold and a
   * sketch, most documents are ruled out by the first sketch stage instead (about an eighth of the
   * components, a multiply-add per byte), counted as a quarter of the components for the ones that
   * go on to their whole vector.
   */
  @Override
  float matchCost() {
    return maxDist != Float.POSITIVE_INFINITY && values.hasSketches()
        ? target.length / 4f
        : 2f * target.length;
  }

  @Override
  Explanation explain() throws IOException {
    float distance = values.squaredDistance(target, Float.POSITIVE_INFINITY);
    if (distance > maxDist) {
      return Explanation.noMatch("sqdist " + distance + " > maxDist " + maxDist);
    }
    return Explanation.match(
        form.score(boost, distance),
        "sqdist="
            + distance
            + " (maxDist="
            + maxDist
            + "), score="
            + form
            + ", computed as "
            + form.formula()
            + " from:",
        Explanation.match(boost, "boost"),
        Explanation.match(distance, "sqdist, the squared Euclidean distance to the query vector"));
  }
}
