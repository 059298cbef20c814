package io.lookalike.solr;

import com.codahale.metrics.Counter;
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
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.ScorerSupplier;
import org.apache.lucene.search.Weight;
import org.apache.lucene.util.BytesRef;

/**
 * The {@link Weight} of a {@code {!visual}} query (an {@link AbstractVisualQuery}): per segment, a
 * {@link ScorerSupplier} of a {@link VisualScorer}, and a {@link VisualBulkScorer} where Lucene
 * runs the query on its own, both ranking with the query's {@link SegmentRanking}. An approximate
 * query's probed cells join the candidates, so distances are only computed for their documents;
 * under a narrower required clause a segment probes more of them (see {@link CellProbe}).
 *
 * <p>Its cost is then still that of the documents with a vector: Lucene passes the least cost of a
 * conjunction's clauses down as {@code leadCost}, and the probe is widened by how much narrower than
 * the vectors that lead is; a cost of the probed cells would hide it.
 *
 * <p>When no score is needed and there is no threshold such as {@code maxDist} (a count, facets,
 * {@code rows=0}, a filter without threshold), every candidate matches: the scorer is then the
 * candidates alone, with no key computed.
 */
final class VisualWeight extends Weight {

  private final AbstractVisualQuery query;
  private final ScoreMode scoreMode;
  private final float boost;
  private final Counter reads;

  VisualWeight(
      AbstractVisualQuery query,
      ScoreMode scoreMode,
      float boost,
      IndexSearcher searcher) {
    super(query);
    this.query = query;
    this.scoreMode = scoreMode;
    this.boost = boost;
    this.reads = VectorReads.of(searcher);
  }

  /** Whether matching a candidate needs no key: no score, no threshold. */
  private boolean everyCandidateMatches() {
    return scoreMode.needsScores() == false && query.hasThreshold() == false;
  }

  /** Null for a segment where no document has a vector. */
  @Override
  public ScorerSupplier scorerSupplier(LeafReaderContext context) throws IOException {
    ImageVectorValues values = vectors(context);
    if (values == null) {
      return null;
    }
    long withVector = values.iterator().cost();
    Weight weight = this;
    return new ScorerSupplier() {
      @Override
      public Scorer get(long leadCost) throws IOException {
        CellProbe probe = query.probe();
        int cells = probe == null ? 0 : probe.widened(withVector, leadCost);
        DocIdSetIterator candidates = inCells(context, values.iterator(), cells);
        if (everyCandidateMatches()) {
          return new ConstantScoreScorer(weight, 0f, scoreMode, candidates);
        }
        SegmentRanking ranking = query.ranking(values, boost);
        return new VisualScorer(weight, ranking, candidates, blockMaxima(context, ranking));
      }

      @Override
      public long cost() {
        return withVector;
      }
    };
  }

  /**
   * Per-block maxima where only the top hits are needed and the segment bounds keys; null (the
   * ranking's maximum) otherwise, where no one asks.
   */
  private BlockMaxScores blockMaxima(LeafReaderContext context, SegmentRanking ranking) {
    if (scoreMode != ScoreMode.TOP_SCORES || ranking.hasKeyBounds() == false) {
      return null;
    }
    return new BlockMaxScores(ranking, () -> vectors(context), context.reader().maxDoc());
  }

  /** Lucene 9 asks for a scorer here; Lucene 10 only through {@link #scorerSupplier}. */
  @Override
  public Scorer scorer(LeafReaderContext context) throws IOException {
    ScorerSupplier supplier = scorerSupplier(context);
    return supplier == null ? null : supplier.get(Long.MAX_VALUE);
  }

  /** Where Lucene runs the query on its own and needs keys: see {@link VisualBulkScorer}. */
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
        inCells(context, DocValues.getBinary(context.reader(), query.field), probed());
    return new VisualBulkScorer(candidates, query.ranking(values, boost));
  }

  /**
   * Without a threshold every document with a vector matches: none in a segment without the field,
   * and in the probed cells the documents of their terms (each document with a vector has exactly
   * one cell term), counted from the terms' document frequencies when nothing is deleted. Otherwise
   * -1: counting would mean computing keys (binary doc values do not count their documents).
   */
  @Override
  public int count(LeafReaderContext context) throws IOException {
    if (context.reader().getFieldInfos().fieldInfo(query.field) == null) {
      return 0;
    }
    CellProbe probe = query.probe();
    if (query.hasThreshold() || probe == null || context.reader().hasDeletions()) {
      return -1;
    }
    Terms terms = context.reader().terms(VectorFieldLayout.cellField(query.field));
    if (terms == null) {
      return 0;
    }
    TermsEnum termsEnum = terms.iterator();
    int count = 0;
    for (BytesRef cell : probe.terms(probe.probe())) {
      if (termsEnum.seekExact(cell)) {
        count += termsEnum.docFreq();
      }
    }
    return count;
  }

  /** The cells probed where nothing narrows the search; 0 for the exact search. */
  private int probed() {
    return query.probe() == null ? 0 : query.probe().probe();
  }

  /**
   * {@code candidates} restricted to the {@code cells} nearest cells: all of them for 0 or every
   * cell, none when this segment has no document in them.
   */
  private DocIdSetIterator inCells(
      LeafReaderContext context, DocIdSetIterator candidates, int cells) throws IOException {
    CellProbe probe = query.probe();
    if (cells == 0 || probe.isEveryCell(cells)) {
      return candidates;
    }
    DocIdSetIterator inCells =
        probe.documents(context.reader(), VectorFieldLayout.cellField(query.field), cells);
    return inCells == null
        ? DocIdSetIterator.empty()
        : ConjunctionUtils.intersectIterators(List.of(candidates, inCells));
  }

  /** Cacheable unless a doc-values field it reads (vector, sketches, tail) was updated. */
  @Override
  public boolean isCacheable(LeafReaderContext context) {
    return DocValues.isCacheable(context, VectorFieldLayout.docValuesFields(query.field));
  }

  @Override
  public Explanation explain(LeafReaderContext context, int doc) throws IOException {
    ImageVectorValues values = vectors(context);
    if (values == null || values.advanceExact(doc) == false) {
      return Explanation.noMatch("no vector in " + query.field);
    }
    if (inCells(context, DocValues.getBinary(context.reader(), query.field), probed()).advance(doc)
        != doc) {
      return Explanation.noMatch("not in the " + probed() + " probed cells");
    }
    if (everyCandidateMatches()) { // no threshold: a vector is a match
      return Explanation.match(0f, "has a vector in " + query.field + " (no score needed)");
    }
    return query.ranking(values, boost).explain();
  }

  private ImageVectorValues vectors(LeafReaderContext context) throws IOException {
    return ImageVectorValues.get(context.reader(), query.field, query.dimension(), reads);
  }
}
