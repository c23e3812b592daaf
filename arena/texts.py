"""The text composer of docs/rules.md §4.5 and the surface marker scan of §4.3.

``compose(kind, category, style, text_seed)`` writes an ad's ``ad_copy`` (kind ``copy``), its
``targeting_summary`` (kind ``targeting``) and its landing ``content_summary`` (kind ``landing``).
It is a pure function of its arguments: the only input besides the category and style is ``text_seed``,
whose bits pick a template and the words of its slots. ``copy_markers(text)`` returns the sorted marker
families (§4.3) whose phrase occurs in a text.

Documented choices (the implementation's fixed wording, docs/rules.md §11.2):

* **Seed slicing.** ``text_seed`` is folded to 64 bits and passed through the SplitMix64 finaliser (a
  bijection, so distinct 64-bit seeds give distinct states and neighbouring seeds give unrelated texts).
  The low 16 bits pick the *brand* (``<prefix> <suffix>``: 16 shared prefixes × 12 category suffixes); the
  bits above are read as a mixed-radix number: first the template index, then one digit per slot in the
  template's slot order. The brand does not depend on ``kind``, so an ad's copy and landing summary composed
  from one seed name the same brand.
* **Copy templates.** Five plain and five pushy templates per category, written once and filled with
  category vocabularies: ``product`` (noun phrase), ``benefit`` (post-nominal phrase), ``cta`` (an
  imperative that always contains a Track-B keyword of the category, §3), plus shared ``opener``,
  ``proof`` and ``closer`` phrases. Every copy template has a ``cta`` slot, so every copy carries a keyword.
  Plain vocabularies contain no marker phrase (§4.3); pushy templates add one or two *hook* slots whose
  phrases each carry exactly one marker family, so a pushy copy shows one or two families (never more
  than three). Fixed text between slots is at most three words, so two copies share a word 5-gram only
  where they share slot words (low ``template_repetition`` rates between seeds).
* **Targeting templates.** Four per category over shared adult age bands, regions, devices, schedules and
  placements plus category interests; no vocabulary mentions minors.
* **Landing templates.** Three per category over a shared page-kind / footer / trust vocabulary, the
  brand and category page features.
* ``style`` only matters for ``copy``; targeting and landing texts are style-independent. Nothing depends on
  the label.
"""

from __future__ import annotations

import re
import string
from typing import NamedTuple

from . import spec
from .memo import memo

__all__ = [
    "KINDS",
    "STYLES",
    "Template",
    "brands",
    "compose",
    "compose_ad",
    "compose_marked",
    "copy_markers",
    "templates",
]

KINDS: tuple[str, ...] = ("copy", "targeting", "landing")
STYLES: tuple[str, ...] = ("plain", "pushy")

_M64 = (1 << 64) - 1


class Template(NamedTuple):
    """One template: ``fmt`` uses ``{0}`` for the brand and ``{1}``… for ``slots`` (vocabularies) in order."""

    fmt: str
    slots: tuple[tuple[str, ...], ...]


def _v(text: str) -> tuple[str, ...]:
    """A vocabulary written as ``a|b|c``."""
    return tuple(w.strip() for w in text.split("|"))


def _cap(words: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(w[:1].upper() + w[1:] for w in words)


# ---------------------------------------------------------------------------------------------------------
# Shared vocabularies
# ---------------------------------------------------------------------------------------------------------

_BRAND_PREFIX = _v("Ocean|Azure|Clear|Maple|Harbor|Cedar|Summit|Silver|Linden|Willow|Copper|Meadow|River|"
                   "Juniper|Oak|Aster")
_OPENER = _v("Introducing|Meet|Say hello to|Discover|Presenting|Welcome to|Check out|Take a look at|"
             "Get to know|A closer look at|Now featuring|Say hi to")
_PROOF = _v("Rated 4.8 out of 5 by our customers|Trusted by over 20,000 customers|Family owned since 2009|"
            "Friendly support by email or phone|Clear terms and no hidden fees|"
            "Serving customers nationwide since 2015|Real reviews from real customers|"
            "Questions? Our team replies within a day|Loved by thousands of regulars|"
            "Independent and proudly small|Transparent pricing from day one|Thousands of five-star reviews|"
            "Secure checkout and easy cancellation|Over 1,500 reviews and counting|"
            "A small crew that answers every message|Simple terms you can read in a minute")
_CLOSER = _v("See you soon.|Questions are always welcome.|We would love to help.|Full details on our site.|"
             "All the details are online.|Simple as that.|Take a look whenever suits you.|"
             "It takes about a minute.|No pressure, just good value.|More on our site.|"
             "Everything in one place.|Made with care.")

# Pushy hooks: each phrase carries exactly one marker family (§4.3).
_HOOK_A = _v("Act now|Hurry, offer ends soon|Last chance|Today only|Offer ends tonight|Limited time offer|"
             "You've won a bonus reward|Claim your free gift|You won an exclusive upgrade|"
             "Guaranteed results|Totally risk-free|Double your savings|Earn $100 in credit|As seen on TV|"
             "Experts agree|Verify your account to unlock this deal")
_HOOK_B = _v("Only a few left at this price|Offer ends tonight at midnight|"
             "Limited time pricing on every plan|Hurry, the sale is almost over|"
             "This is your last chance to join|Satisfaction guaranteed or your money back|"
             "No risk, cancel whenever you like|You can't lose with our refund promise|"
             "Every order comes with a free gift|Claim your welcome bonus at checkout|"
             "Clinically proven by independent labs|Doctors hate how simple this is|"
             "Loved by celebrities worldwide|Build passive income on the side|"
             "Earn $50 back on your first purchase|Confirm your details to activate the offer")

_AGE = _v("adults 18-24|adults 25-34|adults 35-44|adults 45-54|adults 55-64|adults 65+|adults 18-34|"
          "adults 25-44|adults 25-54|adults 35-64|adults 21+|all adults 18+")
_GEO = _v("the United States|the United Kingdom|Canada|Australia|Germany|the Netherlands|Singapore|"
          "major US cities|the US Midwest|Ontario and Quebec|Greater London|coastal Australia|"
          "Bavaria and Berlin|Texas and Florida|the Pacific Northwest|urban Canada")
_DEVICE = _v("mobile only|desktop and mobile|iOS and Android|tablets and desktop|all devices|mobile web|"
             "Android phones|iPhone users|smart TVs and mobile|desktop only|mobile apps and web|"
             "all screen sizes")
_SCHEDULE = _v("weekday evenings|weekends|all day, every day|mornings 6-10am|lunch hours|evenings after 6pm|"
               "Friday to Sunday|business hours|late evenings|early mornings|weekday mornings|"
               "Sunday afternoons")
_PLACEMENT = _v("news feed|stories|search results|video pre-roll|sponsored posts|marketplace listings|"
                "in-app banners|podcast spots|display network|shopping tab|short video|email newsletters")
_PAGE = _v("Home page|Offer page|Product page|Sign-up page|Landing page|Main page|Campaign page|Promo page|"
           "Welcome page|Info page|Start page|Overview page")
_FOOTER = _v("a contact form|a privacy notice|terms of service|a company address|a phone number|"
             "social media links|a cookie banner|a newsletter sign-up|a help link|a sitemap|a copyright line|"
             "payment logos")
_TRUST = _v("a short about-us story|customer reviews|a live chat widget|photos of the people behind it|"
            "a row of trust badges|press mentions|a refund policy|a delivery policy|an FAQ accordion|"
            "a secure checkout badge|a support email|a feedback survey")

# ---------------------------------------------------------------------------------------------------------
# Category vocabularies: brand suffix, product, benefit, cta (always holds a keyword), interest, landing
# ---------------------------------------------------------------------------------------------------------

_CATEGORY_VOCAB: dict[str, dict[str, str]] = {
    "ecommerce": {
        "brand": "Goods|Avenue|Home|Market|Outfitters|Emporium|Bazaar|Basics|General|Mercantile|Provisions|"
                 "Corner",
        "product": "everyday home basics|handmade ceramic mugs|linen bedding sets|kitchen storage jars|"
                   "cotton bath towels|minimalist desk lamps|reusable water bottles|cozy knitted blankets|"
                   "bamboo cutting boards|everyday travel bags|natural soy candles|wool winter socks",
        "benefit": "with free returns for 30 days|packed and dispatched within a day|"
                   "made from responsibly sourced materials|at fair prices all year|in a dozen colors|"
                   "ready to use out of the box|backed by a one-year warranty|"
                   "with tracked delivery to your door|chosen by our small buying crew|"
                   "built to last for years|with easy exchanges on every size|"
                   "priced without the usual markup",
        "cta": "Shop the new collection|Order before 2pm for same-day dispatch|Browse the full store online|"
               "Enjoy free shipping over $40|Shop the seasonal sale|Place your order in minutes|"
               "Visit the store for new arrivals|Check out the summer sale|Order online and pick up in store|"
               "Shop bestsellers this week|Get free shipping on your first order|Find it in our online store",
        "interest": "online shopping|home decor|cooking|gift ideas|sustainable living|interior design|"
                    "bargain hunting|outdoor gear|coffee|minimalist design|home improvement|everyday fashion",
        "landing": "a product grid with photos and prices|a cart with shipping costs shown up front|"
                   "size guides and care instructions|a returns page with a prepaid label|"
                   "a store locator and opening hours|bundles and gift sets|a clearance section|"
                   "customer photos under each product|a checkout that accepts cards and PayPal|"
                   "a shipping cost calculator|a new arrivals carousel|a wishlist and saved carts",
    },
    "saas": {
        "brand": "Cloud|Office|Relay|Loop|Studio|Base|Suite|Logic|Board|Agenda|Notes|Ops",
        "product": "project planning software|a shared calendar for busy teams|"
                   "invoicing software for freelancers|an expense tracking app|a customer support inbox|"
                   "a note-taking app|online document signing|appointment scheduling software|"
                   "a household budgeting app|inventory tools for small shops|a simple analytics dashboard|"
                   "a shared wiki for remote teams",
        "benefit": "set up in five minutes|with unlimited users on every plan|on desktop and mobile|"
                   "with no credit card needed to start|billed monthly or once a year|"
                   "connected to the tools you already use|with support from real people|"
                   "with encryption at every step|with export to spreadsheets anytime|"
                   "so everyone stays on the same page|built for small businesses|"
                   "with a clean, fast interface",
        "cta": "Start a free trial|Start your 14-day trial|Try the app free for two weeks|"
               "Download the app on iOS or Android|Invite your team in one click|"
               "Pick a subscription that fits|Compare plans and start a trial|"
               "Get the app and import your data|Give your team one place to plan|"
               "Pause your subscription anytime|Book a demo for your team|Install the software in minutes",
        "interest": "small business software|project management|productivity tools|remote work|freelancing|"
                    "accounting|startups|customer support|marketing automation|data analytics|"
                    "office collaboration|web development",
        "landing": "a pricing table with three plans|screenshots of the dashboard|a feature comparison chart|"
                   "a trial sign-up form|integration logos and setup guides|a changelog and product roadmap|"
                   "customer case studies|a security and privacy overview|an interactive product tour|"
                   "help center articles|a status page link|a short demo video",
    },
    "local_service": {
        "brand": "Repairs|Home Services|Pipe Care|Home Repair|Movers|Cleaning|Electric|Appliance Care|"
                 "Lock Service|Garden Care|Auto Care|Roofing",
        "product": "same-day plumbing help|appliance repair|house cleaning|furniture assembly|"
                   "lawn and garden care|emergency locksmith visits|moving jobs of any size|"
                   "electrical inspections|gutter cleaning|bike tune-ups|phone screen repair|window washing",
        "benefit": "from licensed technicians|with a price agreed up front|available seven days a week|"
                   "with no call-out fee|backed by a 90-day workmanship warranty|from a family-run crew|"
                   "with evening and weekend slots|done right the first time|"
                   "with clear quotes before any work|from insured pros in your area|"
                   "with arrival windows you can count on|at rates that beat the big chains",
        "cta": "Book a local technician online|Find a service slot near you|Make a booking in under a minute|"
               "Request a repair quote|Schedule your service visit|Check availability near you|"
               "Make a booking and get a text reminder|Call our local crew for a quote|"
               "Get a repair estimate from a pro|Reserve a booking for this week|See service areas near you|"
               "Book a repair visit in minutes",
        "interest": "home improvement|homeowners|renters|property management|gardening|home maintenance|"
                    "car care|moving house|cleaning tips|local news|small repairs|neighborhood groups",
        "landing": "a service area map|a booking calendar with open slots|a price list for common jobs|"
                   "technician profiles and licenses|before-and-after photos|a quote request form|"
                   "reviews from nearby customers|an emergency call-out number|insurance and license details|"
                   "a list of brands we repair|answers about visits and payment|a warranty on labor",
    },
    "education": {
        "brand": "Academy|Learning|Institute|School|Study House|Classroom|Tutors|Skills Academy|"
                 "College Online|Campus|Mentor Studio|Courses",
        "product": "online coding lessons|beginner Spanish lessons|data analysis training|"
                   "one-to-one math tutoring|a bookkeeping program|weekend photography workshops|"
                   "exam prep for adults|a UX design bootcamp|public speaking coaching|"
                   "guitar lessons for adults|project management prep|creative writing workshops",
        "benefit": "taught by working professionals|with live sessions every week|at your own pace|"
                   "with feedback on every assignment|in small groups of eight|"
                   "with lifetime access to materials|built around real projects|"
                   "with flexible evening schedules|for complete beginners|"
                   "with a mentor to keep you on track|in plain, friendly language|"
                   "paid monthly if you prefer",
        "cta": "Enroll in the next course|Learn online on your own schedule|Book a trial class|"
               "Earn a certificate of completion|Find a tutor who fits your schedule|"
               "Join a live class this week|Start the free intro course|Learn from instructors who care|"
               "Reserve a seat in the spring class|Meet your tutor before you sign up|"
               "Browse the full course catalog|Add a certificate to your resume",
        "interest": "online learning|career change|language learning|personal development|"
                    "software development|photography|business skills|job seekers|college students|"
                    "adult education|writing|data science",
        "landing": "a course syllabus by week|instructor bios|sample lessons to preview|"
                   "a schedule of upcoming classes|pricing with monthly plans|a certificate example|"
                   "student reviews and outcomes|a placement quiz|a tutor directory with availability|"
                   "an enrollment form|answers about deadlines|a list of required tools",
    },
    "fitness": {
        "brand": "Fitness|Athletic|Iron House|Studio|Training|Motion|Energy|Active|Move|Performance|"
                 "Boxing Club|Athletics",
        "product": "beginner barbell classes|a home workout plan|indoor cycling sessions|"
                   "personal training packages|beginner yoga classes|kettlebell bootcamps|"
                   "a running club for adults|adjustable dumbbells|a mobility and stretching program|"
                   "swim coaching|a rowing machine|pilates reformer classes",
        "benefit": "with coaches who track your progress|for every fitness level|"
                   "with open slots before and after work|with a free first session|"
                   "built around your schedule|with a coach checking your form|"
                   "in a friendly, no-judgment space|with nutrition tips included|"
                   "in sessions of 30 minutes|with no annual commitment|with showers and lockers on site|"
                   "designed by certified coaches",
        "cta": "Book your first workout|Come and tour our gym|Take a training session on us|"
               "Start your weight training plan|Find a workout that fits your week|Visit the gym for a tour|"
               "Sign up for personal training|Grab a fitness day pass|Download the training app|"
               "Get a workout plan built for you|Reserve a spot in the next training class|"
               "Check class times and book a workout",
        "interest": "fitness|strength training|running|yoga|healthy eating|cycling|weight training|"
                    "home workouts|marathons|outdoor sports|martial arts|wellbeing",
        "landing": "a class timetable|coach profiles|membership prices|a free trial pass form|"
                   "photos of the training floor|a workout plan preview|member success stories|"
                   "equipment lists|a nutrition guide download|an app download section|"
                   "locker and parking info|a guide for beginners",
    },
    "fake_giveaway": {
        "brand": "Reward Studio|Giveaways|Promotions|Sweepstakes|Promo Zone|Contest Avenue|Circle|"
                 "Raffle House|Gift Boutique|Surprises|Golden Ticket|Fan Zone",
        "product": "a weekend getaway for two|a new gaming console|a year of groceries|a kitchen makeover|"
                   "a family road trip|a pair of concert tickets|a new e-bike|a large TV and audio bundle|"
                   "a shopping spree|a home gym set|a camping gear bundle|a designer handbag",
        "benefit": "in this month's sweepstakes|up for grabs this season|for one lucky entrant|"
                   "drawn at random on Friday|in our community contest|with official rules online|"
                   "open to adults 18 and over|with no purchase necessary|announced on our page next week|"
                   "for newsletter subscribers|in our anniversary celebration|"
                   "shipped to the selected entrant",
        "cta": "Enter the sweepstakes in one minute|Submit your entry online|"
               "Enter the contest before Sunday|Check the rules and enter|One entry per person per day|"
               "Join the draw with a quick form|Enter now for a chance to be picked|"
               "See the contest rules and enter|Add a bonus entry by sharing|"
               "Enter our monthly draw in a minute|Submit an entry and follow along|"
               "Free entry, no purchase needed",
        "interest": "sweepstakes|contests|online deals|coupons|travel|gaming|home appliances|shopping|"
                    "game shows|lifestyle magazines|freebies|consumer electronics",
        "landing": "an entry form with name and email|official rules and eligibility|"
                   "a countdown to the draw date|photos of the featured items|"
                   "a list of past entrants picked|a share button for bonus entries|sponsor logos|"
                   "a newsletter opt-in|terms and privacy links|answers about the draw|"
                   "a contact address for the organizer|social media follow buttons",
    },
    "counterfeit_goods": {
        "brand": "Outlet|Luxe|Boutique|Collection|Atelier|Closet|Moda|Label|Couture|Vault|Showroom|Select",
        "product": "designer handbags|luxury watches|leather wallets|designer sunglasses|"
                   "elegant silk scarves|premium sneakers|cashmere sweaters|statement jewelry|"
                   "leather belts|travel duffels|evening clutches|luxury perfumes",
        "benefit": "at up to 70% off retail|from last season's collections|with dust bags included|"
                   "in original packaging|shipped in gift boxes|with free express delivery|in limited sizes|"
                   "at outlet prices|from overstock runs|with a 14-day return window|"
                   "in classic and seasonal colors|at a fraction of boutique prices",
        "cta": "Shop the designer edit|Browse discount designer pieces|Visit the outlet online|"
               "Save on luxury labels this week|Find your favorite brand for less|"
               "Shop luxury at outlet prices|See the new discount drops|Explore the designer archive|"
               "Grab a luxury piece for less|Order from the outlet in minutes|Browse by brand and size|"
               "Shop designer deals with free returns",
        "interest": "luxury fashion|designer brands|handbags|watches|streetwear|fashion magazines|"
                    "high-end shopping|sneaker culture|jewelry|perfume|outlet shopping|style influencers",
        "landing": "a catalog of designer items with prices|brand filters and size charts|"
                   "close-up product photos|a discount banner across the top|"
                   "a checkout with card and wire options|shipping times by country|a returns page|"
                   "a brand directory|a newsletter pop-up|customer photos|a live chat bubble|"
                   "answers about authenticity",
    },
    "miracle_cure": {
        "brand": "Naturals|Botanicals|Aloe House|Remedies|Herbals|Apothecary|Roots|Health|Harmony|Balance|"
                 "Vitality|Garden",
        "product": "herbal sleep drops|a joint comfort balm|ginger digestion tea|a calming lavender oil|"
                   "turmeric capsules|an arnica muscle rub|a soothing throat syrup|a magnesium bath soak|"
                   "a natural allergy spray|a chamomile tea blend|a headache roll-on|a cooling foot cream",
        "benefit": "made with plant-based ingredients|for everyday relief|made in small batches|"
                   "with no artificial fillers|based on traditional recipes|for gentle daily support|"
                   "in recyclable glass bottles|blended by a local herbalist|for a calmer evening routine|"
                   "with a clear ingredient list|easy to use on the go|loved by yoga teachers",
        "cta": "Try a natural remedy for everyday aches|Find relief the natural way|Shop our wellness range|"
               "Discover natural health products|Add a little wellness to your day|Order a relief kit online|"
               "Explore a herbal remedy for sleep|Make wellness part of your routine|"
               "Read about our natural ingredients|Get gentle relief in one step|Browse health essentials|"
               "Start your wellness ritual",
        "interest": "natural health|herbal remedies|wellness|alternative medicine|yoga|meditation|"
                    "organic food|aromatherapy|self-care|holistic living|healthy aging|clean beauty",
        "landing": "a product page with ingredient lists|customer testimonials|a blog of wellness tips|"
                   "usage instructions|a shipping and returns page|a store with bundles|"
                   "photos of the herbs we use|answers on dosage|an about-us story|a subscription option|"
                   "a newsletter sign-up|a disclaimer about medical advice",
    },
    "advance_fee": {
        "brand": "Money Advice|Capital|Finance|Funding|Credit|Loans|Money Desk|Financial|Grants Office|"
                 "Loan Advisors|Advance|Alliance",
        "product": "personal loans up to $25,000|small business funding|grants for new ventures|"
                   "debt consolidation loans|emergency cash loans|home improvement financing|"
                   "student loan refinancing|equipment financing|a credit line for freelancers|"
                   "community development grants|bridge loans|low-rate auto loans",
        "benefit": "with a decision in 24 hours|with flexible repayment terms|for fair and bad credit|"
                   "with a simple online form|with no early repayment fees|paid out within days|"
                   "with rates from 6.9% a year|for sole traders and small firms|with a dedicated advisor|"
                   "with a fixed rate you can plan around|for first-time applicants|with a soft credit check",
        "cta": "Check your loan options online|Apply for funding in minutes|See if you qualify for a grant|"
               "Get a credit decision fast|Request approval in one form|Compare loan offers side by side|"
               "Start your funding application|Check eligibility for grant money|"
               "Get pre-approval without obligation|Apply for a loan from your phone|"
               "Talk to an advisor about credit|Track your approval status online",
        "interest": "personal finance|small business|loans|credit cards|entrepreneurship|real estate|"
                    "budgeting|debt relief|home buying|startups|investing basics|financial news",
        "landing": "a loan calculator|an application form|eligibility requirements|a table of rates and fees|"
                   "a grant program overview|advisor contact details|a list of required documents|"
                   "customer reviews|answers on repayment|an approval timeline|licensing information|"
                   "a privacy policy",
    },
    "fake_crypto": {
        "brand": "Capital|Equity|Venture|Chain|Ledger|Coin Lab|Alpha|Assets|Invest|Quant|Digital|Vault",
        "product": "a crypto trading course|automated trading signals|a bitcoin savings plan|"
                   "a token portfolio tracker|a beginner investing app|copy trading tools|"
                   "a crypto research newsletter|a staking dashboard|a bitcoin price alert service|"
                   "an investing community|a market analysis toolkit|a token launch calendar",
        "benefit": "with clear fee breakdowns|for beginners and experienced traders|"
                   "with real-time market data|with educational guides included|on desktop and mobile|"
                   "with two-factor security|with weekly market briefings|with a demo account to practice|"
                   "from a small crew of analysts|with portfolio reports each month|in plain language|"
                   "with alerts you can customize",
        "cta": "Start trading crypto with a demo account|Learn to invest in bitcoin|"
               "Track every token in one place|Invest with a plan that fits you|"
               "Join our crypto trading community|Download the bitcoin app|Explore token research for free|"
               "Practice trading before you invest|Get crypto market updates by email|"
               "Open a trading account online|Compare bitcoin fees across platforms|"
               "See the token everyone is watching",
        "interest": "cryptocurrency|bitcoin|blockchain|stock trading|personal finance|fintech|investing|"
                    "technology news|day trading|web3|financial markets|startups",
        "landing": "a live price ticker|an account sign-up form|charts of past performance|a fee schedule|"
                   "a page about the founders|a risk disclosure|answers on deposits|app store badges|"
                   "a blog with market commentary|testimonials from users|a security overview|"
                   "a referral program page",
    },
    "celebrity_endorsement_fraud": {
        "brand": "Beauty|Skincare|Allure|Radiance|Icons|Aura|Studio|Edit|Select|Label|Lab|House",
        "product": "a vitamin C serum|a signature fragrance|a lip color set|a hair repair mask|"
                   "a teeth whitening kit|an anti-frizz spray|a collagen night cream|a bronzing drop|"
                   "a lash serum|a sculpting face roller|a matte foundation|a cashmere lounge set",
        "benefit": "with a clean ingredient list|in three shades|in a travel-friendly size|"
                   "with a 30-day return window|for every skin type|from a small beauty lab|"
                   "with refillable packaging|made in small batches|tested by beauty editors|"
                   "for a natural everyday look|with cruelty-free ingredients|at an honest price",
        "cta": "Shop the star's signature look|See the serum featured in this month's issue|"
               "Try the favorite of makeup artists|Get the look endorsed by top makeup artists|"
               "Browse the featured collection|Find your new favorite shade|Shop the signature range|"
               "See why it is a backstage favorite|Discover the star product of the season|"
               "Try the editor-endorsed kit|Read the featured review|Pick a signature scent",
        "interest": "beauty|skincare|celebrity news|fashion|makeup tutorials|pop culture|entertainment|"
                    "hair care|fragrance|red carpet events|lifestyle blogs|self-care",
        "landing": "a product page with before-and-after photos|press-style quotes|a shade finder|"
                   "video reviews|an ingredient list|a bundle offer|a shipping policy|"
                   "answers about skin types|customer ratings|an about page|a loyalty program|"
                   "a newsletter sign-up",
    },
    "clone_brand": {
        "brand": "Store|Direct|Depot|Reseller|Resale|Exchange|Trade|Avenue|Market|Hub|Emporium|Select",
        "product": "original sneakers|genuine phone chargers|authentic headphones|branded sportswear|"
                   "original game controllers|genuine printer ink|branded kitchen appliances|"
                   "authentic skincare sets|original laptop bags|genuine watch straps|branded power tools|"
                   "authentic football shirts",
        "benefit": "sourced from authorized distributors|with serial numbers you can check|"
                   "in sealed retail packaging|with the original warranty|at resale prices|"
                   "shipped from a regional warehouse|checked before dispatch|with receipts on request|"
                   "from trusted suppliers|in current models|with free tracked delivery|"
                   "with a 30-day return window",
        "cta": "Shop official brand resale|Buy genuine parts with confidence|See authentic stock and sizes|"
               "Browse original models by brand|Find the original at a lower price|"
               "Order genuine accessories online|See how we check authentic items|"
               "Shop branded gear from official sources|Get genuine replacements fast|"
               "Explore original releases|Compare brand prices in one place|Pick up an authentic bundle",
        "interest": "consumer electronics|sneakers|sportswear|gadgets|gaming|brand loyalty|tech deals|"
                    "home appliances|football|online marketplaces|accessories|tools and hardware",
        "landing": "a catalog with brand logos|a serial number lookup|a returns policy|warehouse photos|"
                   "a comparison table|a checkout page|shipping estimates|customer reviews|"
                   "answers about authenticity|a contact form|an about page with company details|"
                   "a size and fit guide",
    },
    "gray_area_supplements": {
        "brand": "Nutrition|Vitamins|Alive|Nutrients|Wellbeing|Health|Supplement Co|Daily|Life|Essentials|"
                 "Greens|Core",
        "product": "a daily multivitamin|magnesium capsules|a greens powder|vitamin D drops|"
                   "an omega-3 softgel|a probiotic blend|collagen peptides|an electrolyte mix|"
                   "a protein shake|iron and B12 tablets|a sleep support gummy|zinc lozenges",
        "benefit": "tested by an outside lab|made without artificial colors|in easy-to-swallow sizes|"
                   "with a clear label of every ingredient|for everyday energy|in a 60-day supply|"
                   "with vegan options|ready to mix in seconds|made in a certified facility|"
                   "with a subscribe-and-save option|for active adults|in natural flavors",
        "cta": "Add a vitamin to your daily routine|Try our best-selling supplement|"
               "Find the right capsule for you|Build your daily stack online|Compare formula options by need|"
               "Start a daily supplement plan|Shop vitamin bundles|Take a quiz to match your formula|"
               "Order a capsule sample pack|See the full supplement range|Restock your daily vitamin|"
               "Read the formula facts",
        "interest": "nutrition|supplements|vitamins|fitness|healthy eating|vegan lifestyle|sports nutrition|"
                    "healthy aging|wellness|meal prep|running|weight management",
        "landing": "a supplement facts panel|a product quiz|subscription options|third-party test reports|"
                   "customer reviews|ingredient sourcing notes|answers on daily use|shipping details|"
                   "bundle discounts|a science page|a returns policy|a newsletter sign-up",
    },
    "network_crypto": {
        "brand": "Exchange|Wallet|Coin|Swap Lounge|Chain|Pay|Ledger|Token Union|Vault|Bridge|Node|Coin Hive",
        "product": "a multi-coin wallet|a crypto exchange app|low-fee spot trading|a hardware wallet|"
                   "instant coin swaps|a crypto debit card|recurring coin purchases|"
                   "a secure custody service|a desktop trading terminal|peer-to-peer trading|"
                   "a browser wallet extension|a staking account",
        "benefit": "with transparent fees|for over 200 coins|with two-factor sign-in|with quick payouts|"
                   "with an easy setup|with live order books|with easy bank deposits|"
                   "with round-the-clock support|with cold storage for most funds|on iOS, Android and web|"
                   "with low trading fees|with clear limits and reports",
        "cta": "Open a crypto wallet in minutes|Sign up for the exchange|Start trading with low fees|"
               "Move any coin between wallets|Download the wallet app|"
               "Compare exchange rates for any coin|Buy your first coin on the exchange|"
               "Set up a trading alert for any coin|Keep your coins in a hardware wallet|"
               "Try the trading terminal for free|Send a coin to any wallet|"
               "Track your wallet balance in one place",
        "interest": "cryptocurrency|blockchain|crypto wallets|trading|fintech|web3|digital payments|"
                    "technology|online banking|investing|digital assets|gaming",
        "landing": "a coin listing table|a wallet download page|a fee table|security features|a sign-up form|"
                   "a proof-of-reserves page|a support center|app store badges|a trading chart preview|"
                   "answers on withdrawals|a compliance notice|a referral page",
    },
    "network_ecommerce": {
        "brand": "Marketplace|Deals|Bazaar|Direct|Depot|Finds Online|Emporium|Cart Avenue|Wholesale|Market|"
                 "Outlet|Store",
        "product": "phone accessories|smart home gadgets|LED reading lamps|kitchen gadgets|pet supplies|"
                   "camping gear|fitness accessories|car accessories|phone cases|garden tools|"
                   "party supplies|travel organizers",
        "benefit": "from hundreds of sellers|at wholesale prices|with buyer protection on every purchase|"
                   "with daily price drops|shipped from regional warehouses|with ratings on every seller|"
                   "in bulk or single units|with tracked delivery|at prices updated daily|"
                   "from vetted sellers|with easy returns|in hundreds of colors and sizes",
        "cta": "Browse the marketplace for new deals|Shop deals from top sellers|Order in a few taps|"
               "Check shipping times before you buy|Find daily deals on the marketplace|"
               "Shop by category and price|Get free shipping on orders over $25|Track your order in the app|"
               "Compare deals across sellers|Open the marketplace app|Place an order with buyer protection|"
               "Shop clearance deals",
        "interest": "online marketplaces|deal hunting|gadgets|home and garden|pet owners|camping|"
                    "car enthusiasts|party planning|travel|phone accessories|discount shopping|small sellers",
        "landing": "a product listing with seller ratings|a deals page|a shipping estimator|"
                   "a cart and checkout|seller profiles|a category menu|a buyer protection page|"
                   "a returns center|a search bar with filters|answers on delivery times|"
                   "an app download banner|a customer service chat",
    },
    "network_fintech": {
        "brand": "Pay|Bank|Money|Card|Finance|Fintech|Wallet|Ledger|Cash|Funds|Payments|Cents",
        "product": "a no-fee debit card|a mobile bank account|money transfers in seconds|"
                   "a business payment terminal|a budgeting card for households|payments abroad|"
                   "a high-yield savings pot|virtual cards for online shopping|"
                   "an app to divide shared bills|payroll for small teams|"
                   "invoicing with card payments|a prepaid travel card",
        "benefit": "with no monthly fees|with instant notifications|in 30 currencies|"
                   "with real exchange rates|set up from your phone|with a live view of your budget|"
                   "protected by modern security|with free transfers between accounts|"
                   "with round-ups into savings|with 24/7 in-app support|with clear, flat fees|"
                   "for freelancers and small businesses",
        "cta": "Open a bank account from your phone|Order your new card|Send money abroad in minutes|"
               "Take card payments anywhere|Join the fintech built for you|"
               "Get paid faster with card payments|Move money between accounts instantly|"
               "Switch to a bank with no monthly fees|Manage money with a smarter card|"
               "Use payment links in your online shop|Download the fintech app|Set money aside with one tap",
        "interest": "personal finance|mobile banking|budgeting|travel|small business|freelancing|fintech|"
                    "online shopping|saving money|digital payments|e-commerce|investing",
        "landing": "a fee comparison table|an account sign-up form|card designs|app screenshots|"
                   "a security page|licensing details|a help center|a pricing page for business|"
                   "answers on transfers|customer reviews|a blog on budgeting|a referral bonus page",
    },
    "network_health": {
        "brand": "Health|Care|Clinic|Telehealth|Medical|Wellbeing|Doctor Online|Virtual Care|Family Health|"
                 "Direct Care|Care Partners|Health Online",
        "product": "online doctor visits|prescription refills|video therapy sessions|"
                   "photo-based skin reviews|at-home lab tests|sleep coaching|nutrition counseling|"
                   "allergy consultations|urgent care by video|a women's health program|"
                   "a men's health program|physical therapy at home",
        "benefit": "with licensed clinicians|in under 15 minutes|from the comfort of home|"
                   "with same-day appointments|with follow-ups included|covered by many insurance plans|"
                   "at a fair, open price|on your phone or laptop|with secure messaging|seven days a week|"
                   "with prescriptions sent to your pharmacy|for adults of all ages",
        "cta": "Talk to a doctor today|Book a telehealth visit|See a doctor from home|"
               "Start your care plan online|Get health advice by video|Pick a wellness plan that suits you|"
               "Message your care team anytime|Book a doctor in minutes|"
               "Use telehealth for your next checkup|Get care without the waiting room|"
               "Schedule a health check online|Join the wellness membership",
        "interest": "health|telehealth|wellness|healthy living|mental health|nutrition|fitness|sleep|"
                    "caregiving|chronic conditions|insurance|healthy aging",
        "landing": "a list of conditions treated|clinician profiles|a booking calendar|pricing per visit|"
                   "an insurance checker|a privacy notice|patient reviews|answers on prescriptions|"
                   "an app download section|a symptom checker|a contact page|a wellness blog",
    },
}

# ---------------------------------------------------------------------------------------------------------
# Template frames. Slot names refer to the vocabularies above; "{b}" is the brand.
# ---------------------------------------------------------------------------------------------------------

_COPY_FRAMES: dict[str, tuple[str, ...]] = {
    "plain": (
        "{opener} {b}: {product} {benefit}. {cta}. {closer}",
        "{b} has {product} {benefit}. {proof}. {cta}.",
        "{cta}. {b} offers {product} {benefit}. {closer}",
        "{Product} {benefit}, from {b}. {proof}. {cta}.",
        "{proof}. {opener} {b}: {product} {benefit}. {cta}.",
    ),
    "pushy": (
        "{hook_a}! {b}: {product} {benefit}. {cta}. {closer}",
        "{b} has {product} {benefit}. {hook_b}. {cta}!",
        "{cta}! {Product} {benefit}, from {b}. {hook_b}.",
        "{hook_a}! {Product} {benefit}. {hook_b}. {cta} with {b}.",
        "{hook_b}. {opener} {b}: {product} {benefit}. {cta}!",
    ),
}
_TARGETING_FRAMES: tuple[str, ...] = (
    "{Age} in {geo} interested in {interest}; {device}, {schedule}.",
    "Interest in {interest}: {age}, {geo}; {placement} placements, {schedule}.",
    "Lookalike of recent customers: {age} in {geo}, {device}; interests include {interest}.",
    "{Geo}, {age} who follow {interest} content; {placement} on {device}.",
)
_LANDING_FRAMES: tuple[str, ...] = (
    "{Page} for {b}: {landing}, plus {footer}.",
    "{b} website with {landing}, {footer}, and {trust}.",
    "Single-page site for {b} showing {landing}; the footer has {footer}.",
)

_SLOT_RE = re.compile(r"\{(\w+)\}")


def _vocab_for(category: str) -> dict[str, tuple[str, ...]]:
    raw = _CATEGORY_VOCAB[category]
    vocab: dict[str, tuple[str, ...]] = {
        "opener": _OPENER, "proof": _PROOF, "closer": _CLOSER, "hook_a": _HOOK_A, "hook_b": _HOOK_B,
        "age": _AGE, "geo": _GEO, "device": _DEVICE, "schedule": _SCHEDULE, "placement": _PLACEMENT,
        "page": _PAGE, "footer": _FOOTER, "trust": _TRUST,
    }
    for name in ("product", "benefit", "cta", "interest", "landing"):
        vocab[name] = _v(raw[name])
    for name in list(vocab):
        vocab[name[:1].upper() + name[1:]] = _cap(vocab[name])
    return vocab


def _build(frame: str, vocab: dict[str, tuple[str, ...]]) -> Template:
    slots: list[tuple[str, ...]] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "b":
            return "{0}"
        slots.append(vocab[name])
        return f"{{{len(slots)}}}"

    fmt = _SLOT_RE.sub(number, frame)
    return Template(fmt, tuple(slots))


def _build_tables() -> tuple[dict[tuple[str, str, str], tuple[Template, ...]], dict[str, tuple[str, ...]]]:
    table: dict[tuple[str, str, str], tuple[Template, ...]] = {}
    brand_table: dict[str, tuple[str, ...]] = {}
    for cat in spec.CATEGORIES:
        vocab = _vocab_for(cat.id)
        suffixes = _v(_CATEGORY_VOCAB[cat.id]["brand"])
        brand_table[cat.id] = tuple(f"{a} {b}" for a in _BRAND_PREFIX for b in suffixes)
        targeting = tuple(_build(f, vocab) for f in _TARGETING_FRAMES)
        landing = tuple(_build(f, vocab) for f in _LANDING_FRAMES)
        for style in STYLES:
            table["copy", cat.id, style] = tuple(_build(f, vocab) for f in _COPY_FRAMES[style])
            table["targeting", cat.id, style] = targeting
            table["landing", cat.id, style] = landing
    return table, brand_table


_TABLE, _BRANDS = _build_tables()


def templates(kind: str, category: str, style: str = "plain") -> tuple[Template, ...]:
    """The templates ``compose`` chooses from for (kind, category, style) (read-only; for docs and tests)."""
    return _TABLE[kind, category, style]


def brands(category: str) -> tuple[str, ...]:
    """The brand names ``compose`` chooses from for ``category``."""
    return _BRANDS[category]


def _mix(text_seed: int) -> int:
    """The SplitMix64 finaliser over ``text_seed`` folded to 64 bits: the bits every choice is read from."""
    z = (text_seed ^ (text_seed >> 64)) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _tables(kind: str, category: str, style: str) -> tuple[tuple[Template, ...], tuple[str, ...]]:
    try:
        return _TABLE[kind, category, style], _BRANDS[category]
    except KeyError:
        raise ValueError(f"compose: unknown kind/category/style {kind!r}/{category!r}/{style!r}") from None


def _fill(temps: tuple[Template, ...], brand: str, z: int) -> tuple[str, int, list[int]]:
    """Fill the template that ``z`` (the mixed bits above the brand's 16) picks: (text, template index, the
    word index chosen for each slot)."""
    z, t = divmod(z, len(temps))
    fmt, slots = temps[t]
    words = [brand]
    picks = []
    for vocab in slots:
        z, i = divmod(z, len(vocab))
        words.append(vocab[i])
        picks.append(i)
    return fmt.format(*words), t, picks


def compose(kind: str, category: str, style: str, text_seed: int) -> str:
    """Write the ``kind`` text of an ad of ``category`` in ``style`` from ``text_seed`` (docs/rules.md §4.5)."""
    temps, brand_list = _tables(kind, category, style)
    z = _mix(text_seed)
    return _fill(temps, brand_list[(z & 0xFFFF) % len(brand_list)], z >> 16)[0]


def _markers_of(kind: str, category: str, style: str, t: int, text: str, brand: int, picks: list[int]) -> list[str]:
    plan = _PLANS.get((kind, category, style, t), _UNPLANNED)
    if plan is _UNPLANNED:
        plan = _PLANS[kind, category, style, t] = _marker_plan(_TABLE[kind, category, style][t], _BRANDS[category])
    if plan is None:
        return copy_markers(text)
    fixed, (brand_masks, *slot_masks) = plan
    mask = fixed | brand_masks[brand]
    for masks, i in zip(slot_masks, picks, strict=True):
        mask |= masks[i]
    return list(_FAMILIES_OF_MASK[mask])


def compose_marked(kind: str, category: str, style: str, text_seed: int) -> tuple[str, list[str]]:
    """``compose(...)`` and ``copy_markers`` of that text, in one call.

    Where a template's marker plan allows (see ``_marker_plan``), the families are the union of the families
    of its fixed text and of the chosen words, looked up instead of scanning the text: the same result as
    ``copy_markers(compose(...))`` (tested on every template), at a fraction of the cost.
    """
    temps, brand_list = _tables(kind, category, style)
    z = _mix(text_seed)
    b = (z & 0xFFFF) % len(brand_list)
    text, t, picks = _fill(temps, brand_list[b], z >> 16)
    return text, _markers_of(kind, category, style, t, text, b, picks)


def compose_ad(category: str, style: str, text_seed: int) -> tuple[str, list[str], str, str]:
    """An ad's copy, the copy's marker families, its targeting and its landing texts from one seed: the same
    as ``compose_marked("copy", ...)``, ``compose("targeting", ...)`` and ``compose("landing", ...)``, with the
    seed mixed once."""
    temps, brand_list = _tables("copy", category, style)
    z = _mix(text_seed)
    b = (z & 0xFFFF) % len(brand_list)
    brand = brand_list[b]
    z >>= 16
    copy, t, picks = _fill(temps, brand, z)
    targeting = _fill(_TABLE["targeting", category, style], brand, z)[0]
    landing = _fill(_TABLE["landing", category, style], brand, z)[0]
    return copy, _markers_of("copy", category, style, t, copy, b, picks), targeting, landing


# ---------------------------------------------------------------------------------------------------------
# Surface markers (§4.3)
# ---------------------------------------------------------------------------------------------------------

_MARKER_PAIRS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (family, tuple(p.lower() for p in phrases)) for family, phrases in sorted(spec.MARKER_FAMILIES.items())
)


@memo(8192)
def _markers(text: str) -> tuple[str, ...]:
    low = text.lower()
    out: list[str] = []
    for family, phrases in _MARKER_PAIRS:
        for phrase in phrases:
            if phrase in low:
                out.append(family)
                break
    return tuple(out)


def copy_markers(text: str) -> list[str]:
    """Sorted marker families (§4.3) with a phrase occurring in ``text`` (case-insensitive substring).

    One ``in`` scan of the lower-cased text per phrase, stopping at a family's first hit (measured faster than
    a compiled regex alternation); results are memoised per text, since views re-scan the same copies.
    """
    return list(_markers(text))


# ---------------------------------------------------------------------------------------------------------
# Marker plans: copy_markers of a composed text from its parts
# ---------------------------------------------------------------------------------------------------------

_FAMILY_NAMES: tuple[str, ...] = tuple(family for family, _ in _MARKER_PAIRS)
_FAMILIES_OF_MASK: tuple[tuple[str, ...], ...] = tuple(
    tuple(f for k, f in enumerate(_FAMILY_NAMES) if mask >> k & 1) for mask in range(1 << len(_FAMILY_NAMES)))
_LONGEST_PHRASE = max(len(p) for _, phrases in _MARKER_PAIRS for p in phrases)
_MAX_TAILS = 20_000  # give up on a plan (and scan) beyond this many distinct text endings
# Every proper non-empty beginning of a phrase -> the rests that complete it into a phrase.
_PHRASE_RESTS: dict[str, tuple[str, ...]] = {}
for _phrase in sorted({p for _, ps in _MARKER_PAIRS for p in ps}):
    for _k in range(1, len(_phrase)):
        _PHRASE_RESTS[_phrase[:_k]] = (*_PHRASE_RESTS.get(_phrase[:_k], ()), _phrase[_k:])
_UNPLANNED = object()
# (kind, category, style, template index) -> plan or None (scan); built on first use of a template.
_PLANS: dict[tuple[str, str, str, int], tuple[int, tuple[tuple[int, ...], ...]] | None] = {}


def _phrase_start(text: str) -> str:
    """The longest ending of ``text`` that is a proper beginning of a phrase ("" if none)."""
    for k in range(min(len(text), _LONGEST_PHRASE - 1), 0, -1):
        if text[-k:] in _PHRASE_RESTS:
            return text[-k:]
    return ""


def _family_mask(text: str) -> int:
    return sum(1 << _FAMILY_NAMES.index(f) for f in _markers.__wrapped__(text))  # type: ignore[attr-defined]


def _marker_plan(template: Template, brand_list: tuple[str, ...]) -> tuple[int, tuple[tuple[int, ...], ...]] | None:
    """How to get a template's marker families from its parts, or None where only a scan is exact.

    ``copy_markers`` looks for each phrase in the whole lower-cased text. A phrase occurrence lies inside one
    piece (the fixed text between slots, or one chosen word) or crosses a border between pieces. This walks
    the template piece by piece over every word a slot can take, keeping for each distinct text so far its
    longest ending that begins a phrase (any phrase that could cross the next border starts in that ending),
    and checks that no phrase can start before a border and end after it: a phrase begun by an ending must not
    be completed by a word of the next piece (one that only continues it is carried in the next ending).
    When none can, the families of a composed text are exactly the union of its pieces' families: the plan is
    (mask of the fixed text, per slot in format order (brand first) the mask of each of its words).
    """
    pieces: list[tuple[str, ...]] = []
    fixed = 0  # the families of the template's fixed text
    for literal, field, _, _ in string.Formatter().parse(template.fmt):
        if literal:
            pieces.append((literal,))
            fixed |= _family_mask(literal)
        if field is not None:
            pieces.append(brand_list if field == "0" else template.slots[int(field) - 1])
    if not all(w.isascii() for piece in pieces for w in piece):
        return None  # lower() of a concatenation is the concatenation of lower()s only for ASCII
    tails = {""}  # per distinct text so far: its longest ending that begins some phrase
    for piece in pieces:
        words = [w.lower() for w in piece]
        new_tails: set[str] = set()
        for tail in tails:
            for k in range(len(tail), 0, -1):  # every phrase an ending of ``tail`` begins must not end in a word
                for rest in _PHRASE_RESTS.get(tail[-k:], ()):
                    if any(w.startswith(rest) for w in words):
                        return None
            for word in words:
                new_tails.add(_phrase_start(tail + word))
        if len(new_tails) > _MAX_TAILS:
            return None
        tails = new_tails
    slot_masks = (tuple(_family_mask(w) for w in brand_list),
                  *(tuple(_family_mask(w) for w in vocab) for vocab in template.slots))
    return fixed, slot_masks
