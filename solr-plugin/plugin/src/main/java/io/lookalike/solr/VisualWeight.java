package io.lookalike.solr;

import java.io.IOException;
import java.util.List;
import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.search.BulkScorer;
import org.apache.lucene.search.ConjunctionUtils;
import org.apache.lucene.search.ConstantScoreScorer;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.Explanation;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.ScorerSupplier;
import org.apache.lucene.search.Weight;
import org.apache.lucene.util.BytesRef;

/**
 * The {@link Weight} of a {@link VisualQuery}: per segment, a {@link ScorerSupplier} of a {@link
 * VisualScorer}, and a {@link VisualBulkScorer} where Lucene runs the query on its own. An
 * approximate query's cell filter joins the candidates, so distances are only computed for documents
 * of the probed cells.
 *
 * <p>When no score is needed and there is no {@code maxDist} (a count, facets, {@code rows=0}, a
 * filter without threshold), every candidate matches: the scorer is then the candidates alone, with
 * no distance computed.
 */
final class VisualWeight extends Weight {

  private final VisualQuery query;
  private final ScoreMode scoreMode;
  private final float boost;
  private final Weight cellFilter; // null for the exact search

  VisualWeight(VisualQuery query, ScoreMode scoreMode, float boost, Weight cellFilter) {
    super(query);
    this.query = query;
    this.scoreMode = scoreMode;
    this.boost = boost;
    this.cellFilter = cellFilter;
  }

  /** Whether matching a candidate needs no distance: no score, no threshold. */
  private boolean everyCandidateMatches() {
    return scoreMode.needsScores() == false && query.maxDist == Float.POSITIVE_INFINITY;
  }

  /** Null for a segment where no document has a vector (or none in the probed cells). */
  @Override
  public ScorerSupplier scorerSupplier(LeafReaderContext context) throws IOException {
    ImageVectorValues values = vectors(context);
    if (values == null) {
      return null;
    }
    DocIdSetIterator candidates = inCells(context, values.iterator());
    if (candidates == null) {
      return null;
    }
    Weight weight = this;
    return new ScorerSupplier() {
      @Override
      public Scorer get(long leadCost) {
        if (everyCandidateMatches()) {
          return new ConstantScoreScorer(weight, 0f, scoreMode, candidates);
        }
        return new VisualScorer(
            weight, values, candidates, query.target, query.maxDist, query.score, boost);
      }

      @Override
      public long cost() {
        return candidates.cost();
      }
    };
  }

  /** Lucene 9 asks for a scorer here; Lucene 10 only through {@link #scorerSupplier}. */
  @Override
  public Scorer scorer(LeafReaderContext context) throws IOException {
    ScorerSupplier supplier = scorerSupplier(context);
    return supplier == null ? null : supplier.get(Long.MAX_VALUE);
  }

  /** Where Lucene runs the query on its own and needs distances: see {@link VisualBulkScorer}. */
  @Override
  public BulkScorer bulkScorer(LeafReaderContext context) throws IOException {
    if (everyCandidateMatches()) {
      return super.bulkScorer(context);
    }
    ImageVectorValues values = vectors(context);
    if (values == null) {
      return null;
    }
    // a second iterator over the documents with a vector: values moves on its own
    DocIdSetIterator candidates =
        inCells(context, DocValues.getBinary(context.reader(), query.field));
    if (candidates == null) {
      return null;
    }
    return new VisualBulkScorer(
        candidates, values, query.target, query.maxDist, query.score, boost);
  }

  /**
   * Without {@code maxDist} every document with a vector matches: none in a segment without the
   * field, and in the probed cells the documents of their terms (each document with a vector has
   * exactly one cell term), counted from the terms' document frequencies when nothing is deleted.
   * Otherwise -1: counting would mean computing distances.
   */
  @Override
  public int count(LeafReaderContext context) throws IOException {
    if (context.reader().getFieldInfos().fieldInfo(query.field) == null) {
      return 0;
    }
    if (query.maxDist != Float.POSITIVE_INFINITY
        || query.cells == null
        || context.reader().hasDeletions()) {
      return -1;
    }
    Terms terms = context.reader().terms(VectorFieldLayout.cellField(query.field));
    if (terms == null) {
      return 0;
    }
    TermsEnum termsEnum = terms.iterator();
    int count = 0;
    for (BytesRef cell : query.cells) {
      if (termsEnum.seekExact(cell)) {
        count += termsEnum.docFreq();
      }
    }
    return count;
  }

  /** {@code candidates} restricted to the probed cells, null when none is in this segment. */
  private DocIdSetIterator inCells(LeafReaderContext context, DocIdSetIterator candidates)
      throws IOException {
    if (cellFilter == null) {
      return candidates;
    }
    Scorer inCells = cellFilter.scorer(context);
    return inCells == null
        ? null
        : ConjunctionUtils.intersectIterators(List.of(candidates, inCells.iterator()));
  }

  @Override
  public boolean isCacheable(LeafReaderContext context) {
    return DocValues.isCacheable(context, query.field)
        && (cellFilter == null || cellFilter.isCacheable(context));
  }

  @Override
  public Explanation explain(LeafReaderContext context, int doc) throws IOException {
    ImageVectorValues values = vectors(context);
    if (values == null || values.advanceExact(doc) == false) {
      return Explanation.noMatch("no vector in " + query.field);
    }
    if (cellFilter != null && cellFilter.explain(context, doc).isMatch() == false) {
      return Explanation.noMatch("not in the " + query.cells.length + " probed cells");
    }
    float distance = values.squaredDistance(query.target, Float.POSITIVE_INFINITY);
    if (distance > query.maxDist) {
      return Explanation.noMatch("sqdist " + distance + " > maxDist " + query.maxDist);
    }
    if (everyCandidateMatches()) {
      return Explanation.match(0f, "has a vector in " + query.field + " (no score needed)");
    }
    return Explanation.match(
        query.score.score(boost, distance),
        "sqdist="
            + distance
            + " (maxDist="
            + query.maxDist
            + "), score="
            + query.score
            + ", computed as "
            + query.score.formula()
            + " from:",
        Explanation.match(boost, "boost"),
        Explanation.match(distance, "sqdist, the squared Euclidean distance to the query vector"));
  }

  private ImageVectorValues vectors(LeafReaderContext context) throws IOException {
    return ImageVectorValues.get(context.reader(), query.field, query.target.length);
  }
}
