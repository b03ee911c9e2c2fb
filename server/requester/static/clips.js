/* Clips on the requester's page: the animated image plays by itself in every browser; where the
 * browser has WebCodecs' ImageDecoder, this adds stepping one frame back or on (buttons, or the
 * "," and "." keys while a clip's buttons have focus). A stepped frame is drawn on a canvas in place
 * of the image; Play shows the playing image again. Same-origin only (the page's CSP allows
 * nothing else), and nothing changes without it. */
(function () {
  "use strict";

  if (typeof window.ImageDecoder !== "function" || !window.fetch) {
    return;
  }

  function setUp(item) {
    var image = item.querySelector(".clip-image");
    var canvas = item.querySelector(".clip-frame");
    var controls = item.querySelector(".clip-controls");
    var position = item.querySelector(".clip-position");
    var template = item.getAttribute("data-frame-text") || "{index} / {count}";
    var decoder = null;
    var count = 0;
    var index = -1; // -1: the image plays; else the frame on the canvas
    var queue = Promise.resolve();

    function draw(wanted) {
      // One decode at a time, in the order asked: a quick double tap moves two frames.
      queue = queue.then(function () {
        return decoder.decode({ frameIndex: wanted, completeFramesOnly: true });
      }).then(function (result) {
        var frame = result.image;
        canvas.width = frame.displayWidth;
        canvas.height = frame.displayHeight;
        canvas.getContext("2d").drawImage(frame, 0, 0);
        frame.close();
        image.hidden = true;
        canvas.hidden = false;
        position.textContent = template.replace("{index}", String(wanted + 1)).replace("{count}", String(count));
        item.setAttribute("data-frame", String(wanted));
      }).catch(function () {
        item.setAttribute("data-frame-error", "1");
      });
      return queue;
    }

    function step(by) {
      // From the playing image, either button stops at the first frame.
      var wanted = index < 0 ? 0 : Math.max(0, Math.min(count - 1, index + by));
      index = wanted;
      draw(wanted);
    }

    function play() {
      index = -1;
      canvas.hidden = true;
      image.hidden = false;
      position.textContent = "";
      item.removeAttribute("data-frame");
    }

    ImageDecoder.isTypeSupported("image/webp").then(function (supported) {
      if (!supported) {
        return null;
      }
      return fetch(image.getAttribute("src"), { credentials: "same-origin" }).then(function (response) {
        if (!response.ok) {
          throw new Error("the clip did not load: " + response.status);
        }
        return response.arrayBuffer();
      }).then(function (data) {
        decoder = new ImageDecoder({ data: data, type: "image/webp" });
        return decoder.tracks.ready;
      }).then(function () {
        count = decoder.tracks.selectedTrack.frameCount;
        if (count < 1) {
          return;
        }
        controls.querySelector(".clip-back").addEventListener("click", function () { step(-1); });
        controls.querySelector(".clip-forward").addEventListener("click", function () { step(1); });
        controls.querySelector(".clip-play").addEventListener("click", play);
        controls.addEventListener("keydown", function (event) {
          if (event.key === "," || event.key === ".") {
            event.preventDefault();
            step(event.key === "," ? -1 : 1);
          }
        });
        controls.hidden = false;
        item.setAttribute("data-steppable", String(count));
      });
    }).catch(function () {
      // No stepping; the animated image plays on.
    });
  }

  var clips = document.querySelectorAll("li.clip");
  for (var i = 0; i < clips.length; i++) {
    setUp(clips[i]);
  }
})();
