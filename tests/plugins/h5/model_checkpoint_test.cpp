// ModelCheckpoint: Keras's file-name formatting, save_best_only / save_weights_only / mode,
// and the best value carried across a resumed run (get_state / set_state), saving through
// the format plugins (.h5 here).
#include <gtest/gtest.h>

#include "h5_test_util.hpp"
#include "strata/training.hpp"

namespace strata::h5test {
namespace {

Logs logs_of(std::initializer_list<std::pair<const char*, double>> items) {
  Logs l;
  for (const auto& [k, v] : items) l.set(k, v);
  return l;
}

TEST(ModelCheckpoint, FormatsFieldsAsPythonDoes) {
  // Expected strings are Python's: "ckpt-{epoch:02d}-{val_loss:.2f}.h5".format(epoch=3, val_loss=0.12345)
  ModelCheckpoint cb("ckpt-{epoch:02d}-{val_loss:.2f}.h5");
  EXPECT_EQ(cb.format_filepath(2, logs_of({{"val_loss", 0.12345}})), "ckpt-03-0.12.h5");
  ModelCheckpoint plain("w{epoch}_{loss}_{{x}}.h5");
  EXPECT_EQ(plain.format_filepath(9, logs_of({{"loss", 0.5}})), "w10_0.5_{x}.h5");
  ModelCheckpoint sci("m-{loss:.3e}-{epoch:3d}.h5");
  EXPECT_EQ(sci.format_filepath(0, logs_of({{"loss", 1234.5}})), "m-1.234e+03-  1.h5");
  ModelCheckpoint missing("m-{val_acc:.2f}.h5");
  expect_error<ValueError>([&] { missing.format_filepath(0, logs_of({{"loss", 1.0}})); }, {"val_acc"});
}

class CheckpointRun : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = load_model(fixture("sequential.h5"));
    dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  std::shared_ptr<Model> model_;
  fs::path dir_;
};

TEST_F(CheckpointRun, SaveBestOnlyWritesWhenTheMonitorImproves) {
  ModelCheckpoint::Options o;
  o.save_best_only = true;
  ModelCheckpoint cb((dir_ / "best-{epoch:02d}.h5").string(), o);
  cb.set_model(model_.get());
  const double losses[] = {1.0, 0.5, 0.7, 0.4};
  for (int e = 0; e < 4; ++e) cb.on_epoch_end(e, logs_of({{"loss", 9.0}, {"val_loss", losses[e]}}));
  ASSERT_EQ(cb.saved_files().size(), 3u);
  EXPECT_TRUE(fs::exists(dir_ / "best-01.h5"));
  EXPECT_TRUE(fs::exists(dir_ / "best-02.h5"));
  EXPECT_FALSE(fs::exists(dir_ / "best-03.h5"));
  EXPECT_TRUE(fs::exists(dir_ / "best-04.h5"));
  EXPECT_EQ(cb.best(), 0.4);
  // A whole model, with its optimizer: it loads and predicts what the model predicts.
  auto back = load_model(dir_ / "best-04.h5");
  EXPECT_TRUE(back->is_compiled());
  expect_predicts(*back, index()["models"]["sequential"]);
  // Without the monitored key nothing is saved.
  cb.on_epoch_end(4, logs_of({{"loss", 0.1}}));
  EXPECT_EQ(cb.saved_files().size(), 3u);
}

TEST_F(CheckpointRun, ModeMaxAndAutoForAccuracy) {
  ModelCheckpoint::Options o;
  o.save_best_only = true;
  o.monitor = "val_accuracy";  // auto -> max
  ModelCheckpoint cb((dir_ / "acc-{epoch}.h5").string(), o);
  cb.set_model(model_.get());
  const double acc[] = {0.5, 0.4, 0.6};
  for (int e = 0; e < 3; ++e) cb.on_epoch_end(e, logs_of({{"val_accuracy", acc[e]}}));
  EXPECT_EQ(cb.saved_files(), (std::vector<std::string>{(dir_ / "acc-1.h5").string(), (dir_ / "acc-3.h5").string()}));
  o.monitor = "val_loss";
  o.mode = "max";
  ModelCheckpoint forced((dir_ / "max-{epoch}.h5").string(), o);
  forced.set_model(model_.get());
  forced.on_epoch_end(0, logs_of({{"val_loss", 1.0}}));
  forced.on_epoch_end(1, logs_of({{"val_loss", 0.5}}));
  EXPECT_EQ(forced.saved_files().size(), 1u);
}

TEST_F(CheckpointRun, SaveWeightsOnlyDuringFit) {
  ModelCheckpoint::Options o;
  o.save_weights_only = true;
  o.monitor = "loss";
  auto cb = std::make_shared<ModelCheckpoint>((dir_ / "w-{epoch:02d}-{loss:.3f}.h5").string(), o);
  const auto& e = index()["models"]["sequential"];
  const auto x = read_all(e["train_x"]), y = read_all(e["train_y"]);
  FitOptions fo;
  fo.epochs = 2;
  fo.verbose = 0;
  fo.shuffle = false;
  fo.callbacks = {cb};
  const History h = model_->fit(x, y, fo);
  ASSERT_EQ(cb->saved_files().size(), 2u);
  char name[64];
  std::snprintf(name, sizeof name, "w-02-%.3f.h5", h.history.at("loss").at(1));
  EXPECT_EQ(fs::path(cb->saved_files()[1]).filename().string(), name);
  // Weights only: no model in it, but its weights are the model's after epoch 2.
  expect_error<FormatError>([&] { load_model(cb->saved_files()[1]); }, {"weights only"});
  auto fresh = clone_model(*model_);
  fresh->load_weights(cb->saved_files()[1]).assert_consumed();
  const auto a = model_->get_weights(), b = fresh->get_weights();
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(npy_bytes(a[i]), npy_bytes(b[i]));
}

TEST_F(CheckpointRun, BestValueSurvivesAResume) {
  ModelCheckpoint::Options o;
  o.save_best_only = true;
  ModelCheckpoint first((dir_ / "r-{epoch}.h5").string(), o);
  first.set_model(model_.get());
  first.on_epoch_end(0, logs_of({{"val_loss", 1.0}}));
  first.on_epoch_end(1, logs_of({{"val_loss", 0.5}}));
  const Config state = first.get_state();
  EXPECT_EQ(state["best"].get<double>(), 0.5);

  // The run resumes in a new callback: 0.7 is no improvement on 0.5, 0.4 is.
  ModelCheckpoint resumed((dir_ / "r-{epoch}.h5").string(), o);
  resumed.set_model(model_.get());
  resumed.set_state(state);
  resumed.on_epoch_end(2, logs_of({{"val_loss", 0.7}}));
  EXPECT_TRUE(resumed.saved_files().empty());
  resumed.on_epoch_end(3, logs_of({{"val_loss", 0.4}}));
  EXPECT_EQ(resumed.saved_files().size(), 1u);

  // A fresh callback without the state would have saved at 0.7.
  ModelCheckpoint naive((dir_ / "n-{epoch}.h5").string(), o);
  naive.set_model(model_.get());
  naive.on_epoch_end(2, logs_of({{"val_loss", 0.7}}));
  EXPECT_EQ(naive.saved_files().size(), 1u);

  ModelCheckpoint::Options other = o;
  other.monitor = "val_accuracy";
  ModelCheckpoint wrong((dir_ / "x.h5").string(), other);
  EXPECT_THROW(wrong.set_state(state), ValueError);
}

}  // namespace
}  // namespace strata::h5test
